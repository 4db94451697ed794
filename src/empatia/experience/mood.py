"""Every person's emotional trajectory over their own words: not only an average, but the
recent mood, the trend, and the lowest point (with the text it came from)."""

from __future__ import annotations

import duckdb

from empatia.store import transaction

#: A trend (score per 30 days) beyond this is improving or worsening.
TREND_STEADY = 0.1

TRAJECTORY_SQL = f"""
with t as (
    select p.person_id, a.seq, a."timestamp" as ts, a.score, a.dominant_emotion,
           row_number() over (partition by p.person_id order by a."timestamp" desc, a.seq desc) as rn
    from text_analysis a join event_persons p using (seq)
    where a.score is not null {{only}}
), g as (
    select person_id, count(*) as texts, min(ts) as first_at, max(ts) as last_at,
        avg(score) as average,
        avg(score) filter (where rn <= 3) as recent,
        regr_slope(score, epoch(ts) / (30 * 86400)) as trend_per_30d,
        min(score) as lowest,
        arg_min(ts, (score, -epoch(ts))) as lowest_at,
        arg_min(seq, (score, -epoch(ts))) as lowest_seq,
        arg_max(score, (ts, seq)) as latest,
        arg_max(dominant_emotion, (ts, seq)) as latest_emotion
    from t group by person_id
)
select *,
    case when texts < 2 or trend_per_30d is null then 'steady'
         when trend_per_30d > {TREND_STEADY} then 'improving'
         when trend_per_30d < -{TREND_STEADY} then 'worsening'
         else 'steady' end as direction
from g
"""


def build_trajectories(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``experience_trajectories`` from ``text_analysis``; return people covered."""
    cur = con.cursor()
    try:
        with transaction(cur):  # rolled back on any error
            cur.execute("delete from experience_trajectories")
            cur.execute(f"insert into experience_trajectories by name {TRAJECTORY_SQL.format(only='')}")
        row = cur.execute("select count(*) from experience_trajectories").fetchone()
    finally:
        cur.close()
    return int(row[0]) if row else 0


def update_trajectories(con: duckdb.DuckDBPyConnection, changed: str) -> int:
    """Rebuild the trajectories of the people in table ``changed`` (``person_id``), inside the
    caller's transaction on ``con``; return the people covered."""
    con.execute(
        f"delete from experience_trajectories where person_id in (select person_id from {changed})"
    )
    only = f"and p.person_id in (select person_id from {changed})"
    con.execute(f"insert into experience_trajectories by name {TRAJECTORY_SQL.format(only=only)}")
    row = con.execute("select count(*) from experience_trajectories").fetchone()
    return int(row[0]) if row else 0


def person_curve(con: duckdb.DuckDBPyConnection, person_id: str, limit: int = 200) -> list[dict]:
    """One person's texts over time: when, which event, sentiment and dominant emotion."""
    cur = con.cursor()
    try:
        rows = cur.execute("""
            select a.seq, a."timestamp", a.event, a.channel, a.score, a.sentiment, a.dominant_emotion
            from text_analysis a join event_persons p using (seq)
            where p.person_id = ? order by a."timestamp", a.seq limit ?
        """, [person_id, limit]).fetchall()  # fmt: skip
    finally:
        cur.close()
    keys = ("seq", "at", "event", "channel", "score", "sentiment", "emotion")
    return [dict(zip(keys, r, strict=True)) for r in rows]
