"""Analyse the text touchpoints in the store that are not analysed yet, and keep aggregates.

A text touchpoint is any ``track`` event with a string ``properties.text`` (or
``properties.comment``) — see ``docs/tracking-plan.md``. Results are cached per distinct
text (md5 of locale hint + text) and analyzer version in ``text_cache``, so identical texts
and re-runs cost nothing. Customer text is never logged and never copied into these tables.

Incremental: only events after the last one scanned (``emotion_config`` key ``scanned_seq``)
are looked at — finding text touchpoints means reading every event's JSON, which costs tens of
seconds on millions of events. Each batch's analyses and their sentences are written in one
transaction, so a killed run leaves either both or neither (the next run redoes the batch).

The analyzer is the workspace's setting, recorded with every result (``analyzer``): ``auto``
is resolved once — to the analyzer of the results already stored, else by the backlog — and
kept, so one store never mixes analyzers; switching is ``empatia emotion reanalyze``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import orjson

from empatia.emotion.analyzers.base import EMOTIONS, Analysis
from empatia.emotion.config import EmotionSettings
from empatia.emotion.cues import Cue
from empatia.emotion.langid import locale_hint
from empatia.emotion.registry import Analyzer, get_analyzer

log = logging.getLogger(__name__)

_PENDING = """
select e.seq, e.message_id, e.user_id, e.anonymous_id, e."timestamp", e.event,
       coalesce(json_extract_string(e.raw, '$.context.channel'),
                json_extract_string(e.raw, '$.properties.channel'), 'unknown') as channel,
       coalesce(case when json_type(e.raw, '$.properties.text') = 'VARCHAR'
                     then json_extract_string(e.raw, '$.properties.text') end,
                json_extract_string(e.raw, '$.properties.comment')) as text,
       json_extract_string(e.raw, '$.context.locale') as locale
from events e
where e.type = 'track'
  and (json_type(e.raw, '$.properties.text') = 'VARCHAR'
       or json_type(e.raw, '$.properties.comment') = 'VARCHAR')
  and e.seq > ?
  and not exists (select 1 from text_analysis t where t.seq = e.seq)
order by e.seq
"""

SCANNED = "scanned_seq"  # emotion_config key: events up to this seq have been looked at


def _scanned(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select value from emotion_config where key = ?", [SCANNED]).fetchone()
    return int(row[0]) if row else 0


def text_hash(text: str, hint: str | None) -> str:
    return hashlib.md5(f"{hint or ''}\x00{text}".encode()).hexdigest()


def configured_analyzer(
    con: duckdb.DuckDBPyConnection, settings: EmotionSettings | None = None
) -> str:
    """Analyzer name: ``[stages.emotion] analyzer`` (argument, ``EMPATIA_STAGES__EMOTION__ANALYZER``
    or empatia.toml) → the workspace's choice (``emotion_config``) → ``auto``.

    ``auto`` means the encoder, except for backlogs above ``auto_fast_above`` texts.
    """
    if settings is not None and settings.analyzer:
        return settings.analyzer
    row = con.execute("select value from emotion_config where key = 'analyzer'").fetchone()
    return str(row[0]) if row else "auto"


def analyzer_options(
    con: duckdb.DuckDBPyConnection, name: str, languages: tuple[str, ...]
) -> dict[str, Any]:
    opts: dict[str, Any] = {"languages": tuple(languages)}
    if name == "transformers":
        row = con.execute("select value from emotion_config where key = 'model_dir'").fetchone()
        if row:
            opts["model_dir"] = row[0]
    return opts


def set_config(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "insert into emotion_config values (?, ?) on conflict (key) do update set value = excluded.value",
        [key, value],
    )


def _batches(cur: duckdb.DuckDBPyConnection, size: int) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        rows = cur.fetchmany(size)
        if not rows:
            return
        yield rows


def _cues_json(cues: list[Cue] | list[dict[str, Any]]) -> str:
    items = [c.as_dict() if isinstance(c, Cue) else c for c in cues]
    return orjson.dumps([{k: v for k, v in d.items() if v is not None} for d in items]).decode()


def analyze_pending(
    con: duckdb.DuckDBPyConnection,
    analyzer: Analyzer,
    progress: Any = None,
    batch: int = 2000,
    sentences: bool = True,
    themes: Any = None,
    redact: Any = None,
) -> dict[str, Any]:
    """Analyse every text touchpoint not yet in ``text_analysis``; return figures.

    ``redact`` (a ``str -> str`` function, e.g. :func:`empatia.privacy.redact.redact`) is
    applied before analysis and hashing: the analyzers then only ever see redacted text.
    """
    top = con.execute("select coalesce(max(seq), 0) from events").fetchone()
    upto = int(top[0]) if top else 0
    # seq + a few columns; texts are short
    rows_all = con.execute(_PENDING, [_scanned(con)]).fetchall()
    rows_all = [r for r in rows_all if r[0] <= upto]
    n_total = len(rows_all)
    if progress is not None:
        progress.total(n_total)
    if redact is not None:
        rows_all = [(*r[:7], redact(r[7]) or "", *r[8:]) for r in rows_all]
    analysed = cached = 0
    cache_key = analyzer.key + (f"+themes:{themes.version}" if themes is not None else "")
    for start in range(0, len(rows_all), batch):
        rows = rows_all[start : start + batch]
        hints = [locale_hint(r[8]) for r in rows]
        hashes = [text_hash(r[7], h) for r, h in zip(rows, hints, strict=True)]
        found = dict(
            con.execute(
                "select text_hash, result from text_cache where analyzer = ? and text_hash in "
                "(select unnest(?::varchar[]))",
                [cache_key, list(set(hashes))],
            ).fetchall()
        )
        todo = {
            h: (r[7], hint)
            for r, h, hint in zip(rows, hashes, hints, strict=True)
            if h not in found
        }
        if todo:
            keys = list(todo)
            results = analyzer.analyze(
                [todo[k][0] for k in keys], [todo[k][1] for k in keys], sentences
            )
            theme_lists = themes.assign([todo[k][0] for k in keys]) if themes is not None else None
            new = []
            for j, (k, res) in enumerate(zip(keys, results, strict=True)):
                d = res.as_dict() if isinstance(res, Analysis) else res
                d["themes"] = theme_lists[j] if theme_lists is not None else []
                found[k] = orjson.dumps(d).decode()
                new.append((k, cache_key, found[k]))
            _insert(con, "text_cache", ["text_hash", "analyzer", "result"], new)
            analysed += len(todo)
        cached += len(rows) - len(todo)
        _write_rows(con, rows, hashes, found, analyzer.key)
        if progress is not None:
            progress.advance(len(rows))
    set_config(con, SCANNED, str(upto))
    return {"texts": n_total, "analysed": analysed, "from_cache": cached, "analyzer": analyzer.key}


def _write_rows(
    con: duckdb.DuckDBPyConnection,
    rows: list[tuple[Any, ...]],
    hashes: list[str],
    found: dict[str, Any],
    key: str,
) -> None:
    out, sents = [], []
    for r, h in zip(rows, hashes, strict=True):
        d = found[h]
        d = orjson.loads(d) if isinstance(d, str | bytes) else d
        emo = d["emotions"]
        out.append(
            (
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                h,
                len(r[7]),
                d["language"],
                d["sentiment"],
                d["score"],
                *[emo.get(e, 0.0) for e in EMOTIONS],
                d.get("dominant_emotion"),
                _cues_json(d["effort"]),
                _cues_json(d["escalation"]),
                len(d["effort"]),
                len(d["escalation"]),
                orjson.dumps(d.get("themes", [])).decode(),
                d["confidence"],
                key,
            )
        )
        for i, s in enumerate(d.get("sentences", [])):
            sents.append(
                (
                    r[0],
                    i,
                    s["language"],
                    s["sentiment"],
                    s["score"],
                    s.get("dominant_emotion"),
                    orjson.dumps(s["emotions"]).decode(),
                    _cues_json(s["effort"]),
                    _cues_json(s["escalation"]),
                    s["confidence"],
                )
            )
    cols = (
        'seq, message_id, user_id, anonymous_id, "timestamp", event, channel, text_hash, n_chars, '
        "language, sentiment, score, " + ", ".join(EMOTIONS) + ", dominant_emotion, effort, "
        "escalation, n_effort, n_escalation, themes, confidence, analyzer"
    )
    con.execute("begin transaction")  # analyses and their sentences: both or neither
    try:
        _insert(con, "text_analysis", [c.strip().strip('"') for c in cols.split(",")], out)
        _insert(con, "text_sentences", _SENTENCE_COLS, sents)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


_SENTENCE_COLS = ["seq", "idx", "language", "sentiment", "score", "dominant_emotion", "emotions",
                  "effort", "escalation", "confidence"]  # fmt: skip


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, cols: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert-or-replace many rows at once through Arrow (executemany is row by row)."""
    import pyarrow as pa

    if not rows:
        return
    data = pa.table({c: pa.array([r[i] for r in rows]) for i, c in enumerate(cols)})
    name = f"_emotion_{table}_batch"
    con.register(name, data)
    try:
        quoted = ", ".join(f'"{c}"' for c in cols)
        con.execute(f"insert or replace into {table} ({quoted}) select {quoted} from {name}")
    finally:
        con.unregister(name)


def forget_analyses(con: duckdb.DuckDBPyConnection, keep_analyzer: str | None = None) -> int:
    """Drop per-text results (all, or those not made by ``keep_analyzer``) so they are redone."""
    where = "" if keep_analyzer is None else " where analyzer <> ?"
    args = [] if keep_analyzer is None else [keep_analyzer]
    row = con.execute(f"select count(*) from text_analysis{where}", args).fetchone()
    con.execute(
        f"delete from text_sentences where seq in (select seq from text_analysis{where})", args
    )
    con.execute(f"delete from text_analysis{where}", args)
    set_config(con, SCANNED, "0")  # look at every event again
    return int(row[0]) if row else 0


def rebuild_aggregates(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """``touchpoint_emotion`` always; ``person_emotion`` when identity's ``event_persons`` exists."""
    emo_cols = ", ".join(f"avg({e}) as {e}" for e in EMOTIONS)
    con.execute(f"""
        create or replace table touchpoint_emotion as
        select event, channel, count(*) as n_texts, avg(score) as mean_score,
               avg(case when sentiment = 'negative' then 1.0 else 0.0 end) as share_negative,
               avg(case when n_effort > 0 then 1.0 else 0.0 end) as share_effort,
               avg(case when n_escalation > 0 then 1.0 else 0.0 end) as share_escalation,
               {emo_cols}
        from text_analysis group by event, channel
    """)
    figures = {"touchpoints": _count(con, "touchpoint_emotion")}
    con.execute(f"""
        create or replace table person_emotion as
        with t as (
            select p.person_id, a.*,
                   row_number() over (partition by p.person_id order by a."timestamp" desc, a.seq desc) as rn
            from text_analysis a join event_persons p using (seq)
        )
        select person_id,
               count(*) as n_texts,
               avg(score) as mean_score,
               min(score) as min_score,
               sum(case when sentiment = 'negative' then 1 else 0 end) as n_negative,
               sum(n_effort) as n_effort_cues,
               sum(n_escalation) as n_escalation_cues,
               max("timestamp") as last_text_at,
               max(case when rn = 1 then score end) as last_score,
               max(case when rn = 1 then sentiment end) as last_sentiment,
               max(case when rn = 1 then dominant_emotion end) as last_emotion,
               max(case when rn = 1 then seq end) as last_seq,
               {", ".join(f"avg({e}) as {e}" for e in EMOTIONS)},
               regr_slope(score, epoch("timestamp") / 86400.0) as score_trend_per_day
        from t group by person_id
    """)
    figures["persons"] = _count(con, "person_emotion")
    return figures


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0


def run_emotion(
    con: duckdb.DuckDBPyConnection,
    languages: tuple[str, ...],
    settings: EmotionSettings | None = None,
    progress: Any = None,
    full: bool = False,
) -> dict[str, Any]:
    """The stage's work: analyse pending texts with the workspace's analyzer, then aggregates."""
    settings = settings or EmotionSettings()
    name = configured_analyzer(con, settings)
    if full:
        forget_analyses(con)
    if name == "auto":
        name = resolve_auto(con, settings)
        set_config(con, "analyzer", name)  # the workspace's analyzer from now on
    analyzer = get_analyzer(name, **analyzer_options(con, name, languages))
    themes = None
    if settings.themes and hasattr(analyzer, "embed"):
        from empatia.emotion.themes import ThemeMatcher, load_anchors

        embed = getattr(analyzer, "embed_reusing", analyzer.embed)
        themes = ThemeMatcher(embed, load_anchors(con))
    redact: Callable[[str | None], str | None] | None = None
    row = con.execute("select value from emotion_config where key = 'redact'").fetchone()
    if settings.redact or (row and row[0] in ("on", "true", "1")):
        from empatia.privacy.redact import redact  # the privacy component's public text redactor
    figures = analyze_pending(con, analyzer, progress, themes=themes, redact=redact)
    row = con.execute(
        "select count(*) from text_analysis where analyzer <> ?", [analyzer.key]
    ).fetchone()
    if row and row[0]:
        figures["other_analyzer"] = int(row[0])  # kept as they are until a reanalysis
        log.warning("emotion: %d texts were analysed by another analyzer; run "
                    "`empatia emotion reanalyze` to redo them with %s", row[0], analyzer.key)  # fmt: skip
    figures.update(rebuild_aggregates(con))
    return figures


def resolve_auto(con: duckdb.DuckDBPyConnection, settings: EmotionSettings | None = None) -> str:
    """What ``auto`` means for this workspace: the analyzer most stored results were made
    with; with none stored, ``fast`` for a backlog above ``auto_fast_above`` texts, else
    the encoder."""
    row = con.execute(
        "select split_part(analyzer, ':', 1), count(*) as n from text_analysis"
        " group by 1 order by n desc limit 1"
    ).fetchone()
    if row:
        return str(row[0])
    found = con.execute(f"select count(*) from ({_PENDING})", [_scanned(con)]).fetchone()
    backlog = int(found[0]) if found else 0
    limit = (settings or EmotionSettings()).auto_fast_above
    if backlog > limit:
        log.info("emotion: %d texts pending; using the fast analyzer (choose with "
                 "`empatia emotion use`)", backlog)  # fmt: skip
        return "fast"
    return "encoder"
