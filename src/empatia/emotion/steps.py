"""The emotion stage's Python model steps, as :meth:`~empatia.store.engine.Engine.map_batches`
runs them: pure functions from an Arrow batch to an Arrow batch, picklable, loading their
model once per process — in this process on DuckDB, in Spark's Python workers on Spark.

* :func:`prepare` finds each text touchpoint's text in the event's JSON, redacts it when
  asked, and keys it (:func:`text_hash` of the locale hint and the text);
* :func:`analyze` runs the analyzer (and the theme matcher) over distinct texts;
* :func:`analysis_columns` and :func:`sentence_rows` turn a stored result into the columns of
  ``text_analysis`` and the rows of ``text_sentences``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
import pyarrow as pa

from empatia.emotion.analyzers.base import EMOTIONS, Analysis
from empatia.emotion.cues import Cue
from empatia.emotion.langid import locale_hint


def text_hash(text: str, hint: str | None) -> str:
    return hashlib.md5(f"{hint or ''}\x00{text}".encode()).hexdigest()


def _text_of(raw: str) -> str | None:
    """``properties.text`` when it is a string, else ``properties.comment`` when it is one."""
    props = orjson.loads(raw).get("properties")
    if not isinstance(props, dict):
        return None
    for key in ("text", "comment"):
        if isinstance(props.get(key), str):
            return str(props[key])
    return None


PREPARED = pa.schema([("seq", pa.int64()), ("text_hash", pa.string()), ("hint", pa.string()),
                      ("text", pa.string()), ("n_chars", pa.int32())])  # fmt: skip


def prepare(batch: pa.RecordBatch, *, redact: bool) -> pa.Table:
    """``(seq, raw, locale)`` → :data:`PREPARED`; events without a string text are dropped.
    With ``redact`` the text is redacted before it is hashed, measured or analysed."""
    if redact:
        from empatia.privacy.redact import redact as redactor  # the privacy component's redactor
    rows: dict[str, list[Any]] = {name: [] for name in PREPARED.names}
    for seq, raw, locale in zip(*(batch[c].to_pylist() for c in ("seq", "raw", "locale")),
                                strict=True):  # fmt: skip
        text = _text_of(raw)
        if text is None:
            continue
        if redact:
            text = redactor(text) or ""
        hint = locale_hint(locale)
        for name, value in zip(PREPARED.names, (seq, text_hash(text, hint), hint, text, len(text)),
                               strict=True):  # fmt: skip
            rows[name].append(value)
    return pa.table(rows, schema=PREPARED)


@dataclass(frozen=True)
class Model:
    """What :func:`analyze` needs to build the workspace's model in any process."""

    analyzer: str
    options: tuple[tuple[str, Any], ...]
    sentences: bool = True
    #: the theme anchors (``{theme: [phrases]}`` as sorted JSON), or ``None`` for no themes
    anchors: str | None = None


RESULTS = pa.schema([("text_hash", pa.string()), ("result", pa.string())])


@lru_cache(maxsize=4)
def theme_matcher(model: Model) -> Any:
    """The theme matcher of ``model`` (its anchors embedded once per process)."""
    from empatia.emotion.registry import get_analyzer
    from empatia.emotion.themes import ThemeMatcher

    analyzer: Any = get_analyzer(model.analyzer, **dict(model.options))
    embed = getattr(analyzer, "embed_reusing", analyzer.embed)
    return ThemeMatcher(embed, orjson.loads(model.anchors or "{}"))


def analyze(batch: pa.RecordBatch, *, model: Model) -> pa.Table:
    """``(text_hash, text, hint)`` of distinct texts → :data:`RESULTS` (the analysis as JSON)."""
    from empatia.emotion.registry import get_analyzer  # built once per process and options

    analyzer = get_analyzer(model.analyzer, **dict(model.options))
    texts, hints = batch["text"].to_pylist(), batch["hint"].to_pylist()
    results = analyzer.analyze(texts, hints, model.sentences) if texts else []
    themes = theme_matcher(model).assign(texts) if model.anchors is not None and texts else None
    out = []
    for j, res in enumerate(results):
        d = res.as_dict() if isinstance(res, Analysis) else res
        d["themes"] = themes[j] if themes is not None else []
        out.append(orjson.dumps(d).decode())
    return pa.table({"text_hash": batch["text_hash"], "result": pa.array(out, pa.string())})


def _cues_json(cues: list[Cue] | list[dict[str, Any]]) -> str:
    items = [c.as_dict() if isinstance(c, Cue) else c for c in cues]
    return orjson.dumps([{k: v for k, v in d.items() if v is not None} for d in items]).decode()


ANALYSIS = pa.schema([
    ("seq", pa.int64()), ("language", pa.string()), ("sentiment", pa.string()),
    ("score", pa.float64()), *[(e, pa.float64()) for e in EMOTIONS],
    ("dominant_emotion", pa.string()), ("effort", pa.string()), ("escalation", pa.string()),
    ("n_effort", pa.int32()), ("n_escalation", pa.int32()), ("themes", pa.string()),
    ("confidence", pa.float64()),
])  # fmt: skip


def analysis_columns(batch: pa.RecordBatch) -> pa.Table:
    """``(seq, result)`` → :data:`ANALYSIS`: the result's figures as ``text_analysis`` columns."""
    rows = []
    for seq, result in zip(batch["seq"].to_pylist(), batch["result"].to_pylist(), strict=True):
        d = orjson.loads(result)
        emo = d["emotions"]
        rows.append((seq, d["language"], d["sentiment"], d["score"],
                     *[emo.get(e, 0.0) for e in EMOTIONS], d.get("dominant_emotion"),
                     _cues_json(d["effort"]), _cues_json(d["escalation"]), len(d["effort"]),
                     len(d["escalation"]), orjson.dumps(d.get("themes", [])).decode(),
                     d["confidence"]))  # fmt: skip
    return _table(rows, ANALYSIS)


SENTENCES = pa.schema([
    ("seq", pa.int64()), ("idx", pa.int32()), ("language", pa.string()),
    ("sentiment", pa.string()), ("score", pa.float64()), ("dominant_emotion", pa.string()),
    ("emotions", pa.string()), ("effort", pa.string()), ("escalation", pa.string()),
    ("confidence", pa.float64()),
])  # fmt: skip


def sentence_rows(batch: pa.RecordBatch) -> pa.Table:
    """``(seq, result)`` → :data:`SENTENCES`: one row per sentence of each text."""
    rows = []
    for seq, result in zip(batch["seq"].to_pylist(), batch["result"].to_pylist(), strict=True):
        for i, s in enumerate(orjson.loads(result).get("sentences", [])):
            rows.append((seq, i, s["language"], s["sentiment"], s["score"],
                         s.get("dominant_emotion"), orjson.dumps(s["emotions"]).decode(),
                         _cues_json(s["effort"]), _cues_json(s["escalation"]),
                         s["confidence"]))  # fmt: skip
    return _table(rows, SENTENCES)


def _table(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    return pa.table([pa.array([r[i] for r in rows], f.type) for i, f in enumerate(schema)],
                    schema=schema)  # fmt: skip
