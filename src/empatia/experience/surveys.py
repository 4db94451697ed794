"""Survey answers (NPS, CSAT, CES) as rows with context, and their scores by any dimension.

Answers come from ``Survey Answered`` events — sent live through the tracking API or imported
from a file with ``empatia import`` — and are kept in ``survey_responses`` with the person,
channel, touchpoint, journey stage, market and language. Bot-like and duplicate submissions
are kept but excluded from scores, with the reason (see :mod:`empatia.experience.hygiene`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import duckdb

from empatia.errors import ValidationError
from empatia.experience.config import ExperienceConfig
from empatia.experience.hygiene import flag_sql
from empatia.experience.stats import SCALES, score
from empatia.store import transaction

#: Dimensions a score can be broken down by.
DIMENSIONS = ("period", "channel", "touchpoint", "journey_stage", "market", "language")

#: The journey stage a survey's touchpoint is about.
TOUCHPOINT_STAGE = {"delivery": "receive", "support_case": "get help", "checkout": "buy",
                    "purchase": "buy", "booking": "get help", "store": "buy", "app": "use",
                    "website": "consider", "returns": "return"}  # fmt: skip


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


def build_responses(con: duckdb.DuckDBPyConnection, cfg: ExperienceConfig) -> int:
    """Rebuild ``survey_responses`` from the event log; return how many answers."""
    ta = _has(con, "text_analysis")
    prof = _has(con, "profiles")
    stage_case = " ".join(f"when '{k}' then '{v}'" for k, v in TOUCHPOINT_STAGE.items())
    scale = " ".join(
        f"when '{s}' then a.score between {lo} and {hi}" for s, (lo, hi) in SCALES.items()
    )
    sql = f"""
    create or replace temp table _exp_answers as
    with a as (
        select e.seq, e.message_id, p.person_id,
               lower(trim(json_extract_string(e.raw, '$.properties.survey'))) as survey,
               try_cast(json_extract_string(e.raw, '$.properties.score') as double) as score,
               json_extract_string(e.raw, '$.properties.touchpoint') as touchpoint,
               coalesce(json_extract_string(e.raw, '$.context.channel'),
                        json_extract_string(e.raw, '$.properties.channel'), 'unknown') as channel,
               json_extract_string(e.raw, '$.context.locale') as locale,
               e."timestamp" as answered_at,
               try_cast(json_extract_string(e.raw, '$.properties.duration_seconds') as double)
                   as duration_seconds,
               nullif(trim(json_extract_string(e.raw, '$.properties.comment')), '') as comment
        from events e left join event_persons p using (seq)
        where e.type = 'track' and e.event = 'Survey Answered'
    )
    select a.* exclude (locale, comment),
           coalesce({"t.language" if ta else "null"}, lower(split_part(a.locale, '-', 1))) as language,
           {"pr.market" if prof else "null::varchar"} as market,
           case a.touchpoint {stage_case} else 'use' end as journey_stage,
           a.comment is not null as has_comment,
           {"t.score" if ta else "null::double"} as comment_score,
           lower(regexp_replace(a.comment, '\\s+', ' ', 'g')) as norm_comment
    from a
    {"left join text_analysis t on t.seq = a.seq" if ta else ""}
    {"left join profiles pr on pr.person_id = a.person_id" if prof else ""}
    where a.survey in ('nps', 'csat', 'ces') and a.score is not null
      and case a.survey {scale} end
    """
    cur = con.cursor()
    try:
        cur.execute(sql)
        with transaction(cur):  # rolled back on any error
            cur.execute("delete from survey_responses")
            cur.execute(f"""
                insert into survey_responses by name
                select f.* exclude (norm_comment, reasons),
                       len(f.reasons) > 0 as excluded,
                       nullif(array_to_string(f.reasons, ', '), '') as exclude_reason
                from ({flag_sql(cfg)}) f
            """)  # fmt: skip
        row = cur.execute("select count(*) from survey_responses").fetchone()
        cur.execute("drop table if exists _exp_answers")
    finally:
        cur.close()
    return int(row[0]) if row else 0


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
