"""Analyse the text touchpoints in the store that are not analysed yet, and keep aggregates.

A text touchpoint is any ``track`` event with a string ``properties.text`` (or
``properties.comment``) — see ``docs/tracking-plan.md``. Results are cached per distinct
text (md5 of locale hint + text) and analyzer version in ``text_cache``, so identical texts
and re-runs cost nothing. Customer text is never logged and never copied into these tables.

Incremental: only events after the last one scanned (``emotion_config`` key ``scanned_seq``)
are looked at — finding text touchpoints means reading every event's JSON, which costs tens of
seconds on millions of events.

The work is the engine's (:class:`~empatia.store.engine.Engine`): the pending events are an
Ibis expression, the model runs as Python steps (:mod:`empatia.emotion.steps`, through
:meth:`~empatia.store.engine.Engine.map_batches`: in process on DuckDB, on the executors on
Spark), the analyses are joined back and written. In the runner everything but the model's
memo (``text_cache``) lands with the stage's other outputs, or not at all.

The analyzer is the workspace's setting, recorded with every result (``analyzer``): ``auto``
is resolved once — to the analyzer of the results already stored, else by the backlog — and
kept, so one store never mixes analyzers; switching is ``empatia emotion reanalyze``.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import nullcontext
from functools import partial
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import orjson

from empatia.emotion import steps
from empatia.emotion.analyzers.base import EMOTIONS
from empatia.emotion.config import EmotionSettings
from empatia.emotion.registry import Analyzer, get_analyzer
from empatia.store.engine import DuckDBEngine, Engine, union
from empatia.store import state

log = logging.getLogger(__name__)

SCANNED = "scanned_seq"  # emotion_config key: events up to this seq have been looked at
#: New texts are analysed in parts of about ``PART_TEXTS`` (each part's results kept in the
#: memo at once), in at most ``MAX_PARTS`` parts: each part is a model step, a memo write and
#: a branch of the query that joins the results back, all planned by the driver — 179 parts
#: at 1M people before the cap, and the driver's memory grew with them on Spark (#17).
PART_TEXTS = 2000
MAX_PARTS = 64


def _scanned(con: duckdb.DuckDBPyConnection) -> int:
    return int(state.get(con, "emotion_config", SCANNED, "0") or 0)


def configured_analyzer(
    con: duckdb.DuckDBPyConnection, settings: EmotionSettings | None = None
) -> str:
    """Analyzer name: ``[stages.emotion] analyzer`` (argument, ``EMPATIA_STAGES__EMOTION__ANALYZER``
    or empatia.toml) → the workspace's choice (``emotion_config``) → ``auto``.

    ``auto`` means the encoder, except for backlogs above ``auto_fast_above`` texts.
    """
    if settings is not None and settings.analyzer:
        return settings.analyzer
    return state.get(con, "emotion_config", "analyzer") or "auto"


def analyzer_options(
    con: duckdb.DuckDBPyConnection, name: str, languages: tuple[str, ...]
) -> dict[str, Any]:
    opts: dict[str, Any] = {"languages": tuple(languages)}
    if name == "transformers":
        if model_dir := state.get(con, "emotion_config", "model_dir"):
            opts["model_dir"] = model_dir
    return opts


def set_config(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    state.put(con, "emotion_config", **{key: value})


def _pending(eng: Engine, scanned: int, upto: int) -> ir.Table:
    """Track events after ``scanned`` (up to ``upto``) that may carry a text and have no
    analysis yet; :func:`~empatia.emotion.steps.prepare` keeps those whose text is a string."""
    ev = eng.table("events")
    js = partial(eng.json_str, ev.raw)
    done = eng.table("text_analysis").select("seq")
    return ev.filter(
        ev.type == "track", ev.seq > scanned, ev.seq <= upto,
        js("$.properties.text").notnull() | js("$.properties.comment").notnull(),
    ).anti_join(done, "seq").select(
        "seq", "message_id", "user_id", "anonymous_id", "timestamp", "event", "raw",
        channel=ibis.coalesce(js("$.context.channel"), js("$.properties.channel"), "unknown"),
        locale=js("$.context.locale"),
    )


def analyze_pending(
    con: Any,
    eng: Engine,
    analyzer: Analyzer,
    model: steps.Model,
    progress: Any = None,
    redact: bool = False,
) -> dict[str, Any]:
    """Analyse every text touchpoint not yet in ``text_analysis`` with ``model`` on ``eng``;
    return figures.

    The model runs as the engine's Python steps (:mod:`empatia.emotion.steps`) on each
    distinct text not in ``text_cache``, in parts (:data:`PART_TEXTS`, :data:`MAX_PARTS`);
    each part's results are kept in the memo at once
    (:meth:`~empatia.store.engine.Engine.memo`: in a transaction of its own; in a lake, added
    where the engine runs), so a run cut off does not analyse them again. With ``redact`` the
    analyzer only ever sees redacted text (:func:`empatia.privacy.redact.redact`).
    """
    top = con.execute("select coalesce(max(seq), 0) from events").fetchone()
    upto = int(top[0]) if top else 0
    figures = _analyze(con, eng, analyzer, model, upto, progress, redact)
    set_config(con, SCANNED, str(upto))
    return figures


def _analyze(con: Any, eng: Engine, analyzer: Analyzer, model: steps.Model, upto: int,
             progress: Any, redact: bool) -> dict[str, Any]:  # fmt: skip
    pending = eng.materialize(_pending(eng, _scanned(con), upto), "emotion_pending")
    prepared = eng.map_batches(pending.select("seq", "raw", "locale"),
                               partial(steps.prepare, redact=redact), steps.PREPARED)  # fmt: skip
    cache_key = analyzer.key
    if model.anchors is not None:
        cache_key += f"+themes:{steps.theme_matcher(model).version}"
    distinct = prepared.select("text_hash", "text", "hint").distinct(on="text_hash")
    cache = eng.table("text_cache").filter(lambda t: t.analyzer == cache_key)
    # taken now: the memo written below must not show up here a second time
    cached = eng.materialize(  # once per text, whatever a memo cut off half-way left twice
        cache.semi_join(distinct, "text_hash").select("text_hash", result=cache.result.cast("string"))
        .distinct(on="text_hash")
    )
    todo = eng.materialize(distinct.anti_join(cache, "text_hash"))
    n_texts, n_todo = (int(eng.to_arrow(t.count().as_table()).column(0)[0].as_py())
                       for t in (prepared, todo))  # fmt: skip
    if progress is not None:
        progress.total(n_todo)
    found = [cached]
    # about PART_TEXTS texts a part (more past MAX_PARTS parts), by their hash: each part
    # spread over the engine's partitions (the parts' sizes are not counted: a row each
    # through the driver)
    parts = min(-(-n_todo // PART_TEXTS), MAX_PARTS)  # none when nothing is to do
    n = max(1, parts)
    todo = todo.mutate(part=(todo.text_hash.hash() % n + n) % n)
    for i in range(parts):
        part = todo.filter(todo.part == i)
        results = eng.map_batches(part.select("text_hash", "text", "hint"),
                                  partial(steps.analyze, model=model), steps.RESULTS)  # fmt: skip
        eng.memo(results.select("text_hash", "result", analyzer=ibis.literal(cache_key)),
                 "text_cache")
        found.append(results)
        if progress is not None:  # about as many as a part holds
            progress.advance(n_todo * (i + 1) // parts - n_todo * i // parts)
    texts = prepared.select("seq", "text_hash", "n_chars").join(union(*found), "text_hash")
    columns = eng.map_batches(texts.select("seq", "result"), steps.analysis_columns,
                              steps.ANALYSIS)  # fmt: skip
    rows = (pending.drop("raw", "locale").join(texts.drop("result"), "seq").join(columns, "seq")
            .mutate(analyzer=ibis.literal(analyzer.key)))  # fmt: skip
    eng.write(rows, "text_analysis", replace=False)
    sentences = eng.map_batches(texts.select("seq", "result"), steps.sentence_rows,
                                steps.SENTENCES)  # fmt: skip
    eng.write(sentences, "text_sentences", replace=False)
    return {"texts": n_texts, "analysed": n_todo, "from_cache": n_texts - n_todo,
            "analyzer": analyzer.key}  # fmt: skip


def forget_analyses(
    con: Any, keep_analyzer: str | None = None, eng: Engine | None = None
) -> int:
    """Drop per-text results (all, or those not made by ``keep_analyzer``) so they are redone;
    found on ``eng`` (default: the store's DuckDB), deleted with their sentences."""
    with nullcontext(eng) if eng is not None else DuckDBEngine(con) as on:
        ta = on.table("text_analysis")
        gone = on.materialize((ta if keep_analyzer is None else
                               ta.filter(ta.analyzer != keep_analyzer)).select("seq"))  # fmt: skip
        on.delete("text_sentences", gone, ["seq"])
        n = on.delete("text_analysis", gone, ["seq"])
        on.drop_temp(gone)
    set_config(con, SCANNED, "0")  # look at every event again
    return n


def rebuild_aggregates(eng: Engine) -> dict[str, int]:
    """``touchpoint_emotion`` (per event and channel) and ``person_emotion`` (per person of
    identity's ``event_persons``), rebuilt from ``text_analysis``."""
    a = eng.table("text_analysis")
    share = lambda cond: ibis.ifelse(cond, 1, 0).mean()  # noqa: E731 (1.0 is a decimal on Spark)
    emotions = {e: a[e].mean() for e in EMOTIONS}
    touchpoints = a.group_by("event", "channel").aggregate(
        n_texts=a.count(), mean_score=a.score.mean(), share_negative=share(a.sentiment == "negative"),
        share_effort=share(a.n_effort > 0), share_escalation=share(a.n_escalation > 0), **emotions,
    )
    figures = {"touchpoints": eng.write(touchpoints, "touchpoint_emotion")}
    p = eng.table("event_persons").select("seq", "person_id")
    j = a.join(p, "seq")
    t = j.mutate(
        rn=ibis.row_number().over(group_by=j.person_id, order_by=[j.timestamp.desc(), j.seq.desc()]),
        day=j.timestamp.epoch_seconds() / 86400.0,
    )
    last = t.rn == 0
    slope = t.score.cov(t.day, how="pop") / t.day.var(how="pop")
    persons = t.group_by("person_id").aggregate(
        n_texts=t.count(), mean_score=t.score.mean(), min_score=t.score.min(),
        n_negative=(t.sentiment == "negative").sum(), n_effort_cues=t.n_effort.sum(),
        n_escalation_cues=t.n_escalation.sum(), last_text_at=t.timestamp.max(),
        last_score=t.score.max(where=last), last_sentiment=t.sentiment.max(where=last),
        last_emotion=t.dominant_emotion.max(where=last), last_seq=t.seq.max(where=last),
        **{e: t[e].mean() for e in EMOTIONS},
        score_trend_per_day=ibis.ifelse(t.day.var(how="pop") > 0, slope, ibis.null()),
    )
    figures["persons"] = eng.write(persons, "person_emotion")
    return figures


def run_emotion(
    con: Any,
    languages: tuple[str, ...],
    settings: EmotionSettings | None = None,
    progress: Any = None,
    full: bool = False,
    eng: Engine | None = None,
) -> dict[str, Any]:
    """The stage's work: analyse pending texts with the workspace's analyzer, then aggregates.
    ``eng``: the engine the model steps run on (a DuckDB engine on ``con`` when not given)."""
    settings = settings or EmotionSettings()
    name = configured_analyzer(con, settings)
    if full:
        forget_analyses(con, eng=eng)
    if name == "auto":
        name = resolve_auto(con, settings, eng)
        set_config(con, "analyzer", name)  # the workspace's analyzer from now on
    options = analyzer_options(con, name, languages)
    analyzer = get_analyzer(name, **options)
    anchors = None
    if settings.themes and hasattr(analyzer, "embed"):
        from empatia.emotion.themes import load_anchors

        anchors = orjson.dumps(load_anchors(con)).decode()  # in order: part of the cache key
    model = steps.Model(name, tuple(sorted(options.items())), anchors=anchors)
    redact = settings.redact or state.get(con, "emotion_config", "redact") in ("on", "true", "1")
    own = eng is None
    eng = eng or DuckDBEngine(con)
    try:
        figures = analyze_pending(con, eng, analyzer, model, progress, redact=redact)
        figures.update(rebuild_aggregates(eng))
        ta = eng.table("text_analysis")
        other = eng.count(ta.filter(ta.analyzer != analyzer.key))
    finally:
        if own:
            eng.close()
    if other:
        figures["other_analyzer"] = other  # kept as they are until a reanalysis
        log.warning("emotion: %d texts were analysed by another analyzer; run "
                    "`empatia emotion reanalyze` to redo them with %s", other, analyzer.key)  # fmt: skip
    return figures


def resolve_auto(con: duckdb.DuckDBPyConnection, settings: EmotionSettings | None = None,
                 eng: Engine | None = None) -> str:
    """What ``auto`` means for this workspace: the analyzer most stored results were made
    with; with none stored, ``fast`` for a backlog above ``auto_fast_above`` texts, else
    the encoder. Counted on ``eng`` (default: a DuckDB engine on ``con``): on Spark the
    executors read the event log — the driver's DuckDB reading the 1M world's took 3.6 GB."""
    with nullcontext(eng) if eng is not None else DuckDBEngine(con) as on:
        ta = on.table("text_analysis")
        made = on.to_arrow(ta.group_by("analyzer").aggregate(n=ta.count())).to_pylist()
        by_name: Counter[str] = Counter()
        for r in made:  # "fast:2" is the fast analyzer, version 2
            by_name[str(r["analyzer"]).split(":")[0]] += int(r["n"])
        if by_name:
            return by_name.most_common(1)[0][0]
        backlog = on.count(_pending(on, _scanned(con), upto=2**62))
    limit = (settings or EmotionSettings()).auto_fast_above
    if backlog > limit:
        log.info("emotion: %d texts pending; using the fast analyzer (choose with "
                 "`empatia emotion use`)", backlog)  # fmt: skip
        return "fast"
    return "encoder"
