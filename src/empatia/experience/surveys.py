"""Survey answers (NPS, CSAT, CES) as rows with context, and their scores by any dimension.

Answers come from ``Survey Answered`` events — sent live through the tracking API or imported
from a file with ``empatia import`` — and are kept in ``survey_responses`` with the person,
channel, touchpoint, journey stage, market and language. Bot-like and duplicate submissions
are kept but excluded from scores, with the reason (see :mod:`empatia.experience.hygiene`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import partial
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from empatia.errors import ValidationError
from empatia.experience.config import ExperienceConfig
from empatia.experience.hygiene import flags
from empatia.experience.stats import SCALES, score
from empatia.store.engine import Engine

#: Dimensions a score can be broken down by.
DIMENSIONS = ("period", "channel", "touchpoint", "journey_stage", "market", "language")

#: The journey stage a survey's touchpoint is about.
TOUCHPOINT_STAGE = {"delivery": "receive", "support_case": "get help", "checkout": "buy",
                    "purchase": "buy", "booking": "get help", "store": "buy", "app": "use",
                    "website": "consider", "returns": "return"}  # fmt: skip


def answers_expr(eng: Engine, *, texts: bool, profiles: bool) -> ir.Table:
    """Every valid survey answer of the event log with its context (``texts``: the comment's
    language and sentiment from ``text_analysis``; ``profiles``: the person's market), and
    ``norm_comment`` for the hygiene rules."""
    ev = eng.table("events")
    js = partial(eng.json_str, ev.raw)
    ep = eng.table("event_persons").select("seq", "person_id")
    e = ev.filter(ev.type == "track", ev.event == "Survey Answered")
    a = e.select(
        "seq", "message_id",
        survey=js("$.properties.survey").strip().lower(),
        score=js("$.properties.score").try_cast("float64"),
        touchpoint=js("$.properties.touchpoint"),
        channel=ibis.coalesce(js("$.context.channel"), js("$.properties.channel"), "unknown"),
        locale=js("$.context.locale"),
        answered_at=ev["timestamp"],
        duration_seconds=js("$.properties.duration_seconds").try_cast("float64"),
        comment=js("$.properties.comment").strip().nullif(""),
    ).left_join(ep, "seq").drop("seq_right")  # fmt: skip
    valid = ibis.cases(
        *[(a.survey == s, a.score.between(lo, hi)) for s, (lo, hi) in SCALES.items()],
        else_=False,
    )
    a = a.filter(a.score.notnull(), valid)
    from_locale = a.locale.split("-")[0].lower()
    language, comment_score = from_locale, ibis.null().cast("float64")
    if texts:
        ta = eng.table("text_analysis").select("seq", ta_language="language", ta_score="score")
        a = a.left_join(ta, "seq").drop("seq_right")
        language, comment_score = ibis.coalesce(a.ta_language, from_locale), a.ta_score
    market = ibis.null().cast("string")
    if profiles:
        pr = eng.table("profiles").select("person_id", pr_market="market")
        a = a.left_join(pr, "person_id").drop("person_id_right")
        market = a.pr_market
    stage = ibis.cases(*[(a.touchpoint == k, v) for k, v in TOUCHPOINT_STAGE.items()], else_="use")
    return a.select(
        "seq", "message_id", "person_id", "survey", "score", "touchpoint", "channel",
        "answered_at", "duration_seconds",
        language=language, market=market, journey_stage=stage,
        has_comment=a.comment.notnull(), comment_score=comment_score,
        norm_comment=a.comment.re_replace(r"\s+", " ").lower(),
    )  # fmt: skip


def build_responses(con: Any, eng: Engine, cfg: ExperienceConfig) -> int:
    """Rebuild ``survey_responses`` from the event log (in the caller's transaction); return
    how many answers. ``con``: the engine's store cursor (which inputs exist)."""
    answers = answers_expr(eng, texts=eng.has("text_analysis"), profiles=eng.has("profiles"))
    return eng.write(flags(answers, cfg).drop("norm_comment"), "survey_responses")


def survey_scores(
    con: duckdb.DuckDBPyConnection,
    *,
    survey: str | None = None,
    by: str | None = None,
    period: str = "month",
    start: datetime | None = None,
    end: datetime | None = None,
    confidence: float = 0.95,
    include_excluded: bool = False,
) -> list[dict[str, Any]]:
    """Scores with confidence intervals, overall or per ``by`` (one of :data:`DIMENSIONS`).

    NPS is −100..100; CSAT and CES are the % of answers satisfied (4–5) / easy (5–7), with
    the mean beside them.
    """
    if survey is not None and survey not in SCALES:
        raise ValidationError(f"unknown survey {survey!r}; use nps, csat or ces", survey=survey)
    if by is not None and by not in DIMENSIONS:
        raise ValidationError(f"cannot break down by {by!r}; use {', '.join(DIMENSIONS)}", by=by)
    if period not in ("day", "week", "month", "quarter", "year"):
        raise ValidationError("period must be day, week, month, quarter or year", period=period)
    params: list[Any]
    conds, params = ["true"], []
    if not include_excluded:
        conds.append("not excluded")
    if survey:
        conds.append("survey = ?")
        params.append(survey)
    if start:
        conds.append("answered_at >= ?")
        params.append(start)
    if end:
        conds.append("answered_at < ?")
        params.append(end)
    if by == "period":
        key = f"strftime(date_trunc('{period}', answered_at), '%Y-%m-%d')"
    elif by:
        key = f"coalesce({by}, '(none)')"
    else:
        key = "'all'"
    cur = con.cursor()
    try:
        rows = cur.execute(
            f"select {key}, survey, list(score) from survey_responses where {' and '.join(conds)}"
            " group by all order by 1, 2", params,
        ).fetchall()  # fmt: skip
    finally:
        cur.close()
    out = []
    for group, kind, scores in rows:
        s = score(kind, scores, confidence)
        out.append({by or "group": group, **s.as_dict()})
    return out


def excluded_responses(con: duckdb.DuckDBPyConnection, limit: int = 100,
                       with_text: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """The answers left out of the scores, with the reason (and the comment, for admins)."""
    text = ", json_extract_string(e.raw, '$.properties.comment') as comment" if with_text else ""
    cur = con.cursor()
    try:
        df = cur.execute(f"""
            select r.seq, r.person_id, r.survey, r.score, r.touchpoint, r.answered_at,
                   r.duration_seconds, r.exclude_reason{text}
            from survey_responses r join events e using (seq)
            where r.excluded order by r.answered_at desc limit ?
        """, [limit]).df()  # fmt: skip
    finally:
        cur.close()
    return df.to_dict("records")  # type: ignore[no-any-return]


def summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Counts of answers kept and excluded, by reason."""
    reasons: dict[str, int] = defaultdict(int)
    kept = excluded = 0
    for excl, reason, n in con.execute(
        "select excluded, exclude_reason, count(*) from survey_responses group by all"
    ).fetchall():
        if excl:
            excluded += n
            for r in (reason or "").split(", "):
                reasons[r] += n
        else:
            kept += n
    return {"kept": kept, "excluded": excluded, "reasons": dict(reasons)}
