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
from contextlib import nullcontext
from functools import partial
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import orjson
import pyarrow as pa

from empatia.emotion import steps
from empatia.emotion.analyzers.base import EMOTIONS
from empatia.emotion.config import EmotionSettings
from empatia.emotion.registry import Analyzer, get_analyzer
from empatia.store.engine import DuckDBEngine, Engine, union

log = logging.getLogger(__name__)

SCANNED = "scanned_seq"  # emotion_config key: events up to this seq have been looked at


def _scanned(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select value from emotion_config where key = ?", [SCANNED]).fetchone()
    return int(row[0]) if row else 0


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
    analyzer: Analyzer,
    progress: Any = None,
    batch: int = 2000,
    model: steps.Model | None = None,
    redact: bool = False,
    eng: Engine | None = None,
) -> dict[str, Any]:
    """Analyse every text touchpoint not yet in ``text_analysis``; return figures.

    The model runs as the engine's Python steps (:mod:`empatia.emotion.steps`) on each
    distinct text not in ``text_cache``, ``batch`` texts at a time; each batch's results are
    kept in the memo at once (:meth:`~empatia.store.scoped.StageStore.memo` in the runner),
    so a run cut off does not analyse them again. With ``redact`` the analyzer only ever
    sees redacted text (:func:`empatia.privacy.redact.redact`).
    """
    model = model or steps.Model(analyzer.key.split(":")[0], ())
    top = con.execute("select coalesce(max(seq), 0) from events").fetchone()
    upto = int(top[0]) if top else 0
    own = eng is None
    eng = eng or DuckDBEngine(con)
    try:
        figures = _analyze(con, eng, analyzer, model, upto, progress, batch, redact)
    finally:
        if own:
            eng.close()
    set_config(con, SCANNED, str(upto))
    return figures


def _analyze(con: Any, eng: Engine, analyzer: Analyzer, model: steps.Model, upto: int,
             progress: Any, batch: int, redact: bool) -> dict[str, Any]:  # fmt: skip
    pending = eng.materialize(_pending(eng, _scanned(con), upto), "emotion_pending")
    prepared = eng.map_batches(pending.select("seq", "raw", "locale"),
                               partial(steps.prepare, redact=redact), steps.PREPARED)  # fmt: skip
    cache_key = analyzer.key
    if model.anchors is not None:
        cache_key += f"+themes:{steps.theme_matcher(model).version}"
    distinct = prepared.select("text_hash", "text", "hint").distinct(on="text_hash")
    cache = eng.table("text_cache").filter(lambda t: t.analyzer == cache_key)
    # taken now: the memo written below must not show up here a second time
    cached = eng.materialize(
        cache.semi_join(distinct, "text_hash").select("text_hash", result=_text(cache.result))
    )
    todo = eng.materialize(
        distinct.anti_join(cache, "text_hash").mutate(rn=ibis.row_number().over(order_by="text_hash"))
    )
    n_texts, n_todo = (int(eng.to_arrow(t.count().as_table()).column(0)[0].as_py())
                       for t in (prepared, todo))  # fmt: skip
    if progress is not None:
        progress.total(n_todo)
    found = [cached]
    for start in range(0, n_todo, batch):
        part = todo.filter(todo.rn >= start, todo.rn < start + batch)
        results = eng.map_batches(part.select("text_hash", "text", "hint"),
                                  partial(steps.analyze, model=model), steps.RESULTS)  # fmt: skip
        _memo(con, eng.to_arrow(results), cache_key)
        found.append(results)
        if progress is not None:
            progress.advance(min(batch, n_todo - start))
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


def _text(col: ir.Value) -> ir.StringValue:
    return col.cast("string")


def _memo(con: Any, results: Any, cache_key: str) -> None:
    """Keep the model's results: in the runner in a transaction of their own."""
    if not results.num_rows:
        return
    data = results.append_column("analyzer", pa.array([cache_key] * results.num_rows, pa.string()))
    memo = getattr(con, "memo", None)
    with memo() if memo is not None else nullcontext(con) as cur:
        cur.register("_emotion_memo", data)
        try:
            cur.execute("insert or replace into text_cache (text_hash, analyzer, result) "
                        "select text_hash, analyzer, result from _emotion_memo")  # fmt: skip
        finally:
            cur.unregister("_emotion_memo")


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
        forget_analyses(con)
    if name == "auto":
        name = resolve_auto(con, settings)
        set_config(con, "analyzer", name)  # the workspace's analyzer from now on
    options = analyzer_options(con, name, languages)
    analyzer = get_analyzer(name, **options)
    anchors = None
    if settings.themes and hasattr(analyzer, "embed"):
        from empatia.emotion.themes import load_anchors

        anchors = orjson.dumps(load_anchors(con), option=orjson.OPT_SORT_KEYS).decode()
    model = steps.Model(name, tuple(sorted(options.items())), anchors=anchors)
    row = con.execute("select value from emotion_config where key = 'redact'").fetchone()
    redact = bool(settings.redact or (row and row[0] in ("on", "true", "1")))
    figures = analyze_pending(con, analyzer, progress, model=model, redact=redact, eng=eng)
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
    with DuckDBEngine(con) as eng:
        pending = _pending(eng, _scanned(con), upto=2**62)
        backlog = int(pending.count().to_pyarrow().as_py())
    limit = (settings or EmotionSettings()).auto_fast_above
    if backlog > limit:
        log.info("emotion: %d texts pending; using the fast analyzer (choose with "
                 "`empatia emotion use`)", backlog)  # fmt: skip
        return "fast"
    return "encoder"
