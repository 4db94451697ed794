"""What special care reads from the store, as small per-person frames.

Inputs are other stages' *tables*, never their code: ``event_persons`` (identity),
``profiles`` / ``profile_traits`` (profiles), ``text_analysis`` (emotion) and, for service
journeys, ``experience_journeys`` (experience) when it is there, else the ``Case Opened`` /
``Support Contact`` / ``Case Resolved`` events of the tracking plan. Only the recent window
(``risk.window_days`` before "now") is read for risk, so the work stays small at any size.
"now" is the latest event of the last day with normal traffic (:func:`as_of`): a re-run over the
same events gives the same list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from empatia.store.changes import CHANGED, changed_persons, save_marks

#: Traits of the tracking plan that speak to influence.
INFLUENCE_TRAITS = ("profession", "followers", "followers_by_network", "press", "vip", "tier",
                    "referrals")  # fmt: skip


@dataclass
class Inputs:
    """Everything scoring needs; each frame has a ``person_id`` column."""

    as_of: datetime
    texts: pd.DataFrame  # recent text touchpoints with their analysis
    journeys: pd.DataFrame  # service journeys active in the window
    reviews: pd.DataFrame  # per person: public reviews (all time), bad public ones (window)
    traits: pd.DataFrame  # per person: the influence traits
    values: pd.DataFrame  # per person: clv_12m, revenue


_AS_OF = """
with d as (select date_trunc('day', "timestamp") as day, count(*) as n, max("timestamp") as last
           from events group by 1)
select max(last) from d where n > ? * (select median(n) from d)
"""


def as_of(con: duckdb.DuckDBPyConnection, min_share: float = 0.1) -> datetime | None:
    """ "Now": the latest event of the last day with normal traffic (more than ``min_share`` of
    the median day's events). A few stray late or future-dated events (a device with a wrong clock, a
    case logged weeks after the rest) would otherwise age every signal by weeks."""
    row = con.execute(_AS_OF, [min_share]).fetchone()
    return row[0] if row else None


_TEXTS = """
select p.person_id, a.seq, a."timestamp" as "at", a.event, a.channel, a.language, a.sentiment,
       a.score, a.anger, a.frustration, a.dominant_emotion, a.escalation::varchar as escalation,
       a.effort::varchar as effort
from text_analysis a join event_persons p using (seq)
where a."timestamp" >= ?
"""

_TRAITS_FROM_EVENTS = """
with t as (
    select p.person_id, e.seq,
           coalesce(json_extract(e.raw, '$.traits'), json_extract(e.raw, '$.context.traits')) as tr
    from events e join event_persons p using (seq)
    where e.raw like '%traits%'
      and (e.raw like '%ollowers%' or e.raw like '%"press"%' or e.raw like '%"vip"%'
           or e.raw like '%"profession"%' or e.raw like '%"referrals"%' or e.raw like '%"tier"%')
      {only}
)
select person_id,
       arg_max(json_extract_string(tr, '$.profession'), seq)
           filter (where json_extract_string(tr, '$.profession') is not null) as profession,
       arg_max(json_extract_string(tr, '$.followers'), seq)
           filter (where json_extract_string(tr, '$.followers') is not null) as followers,
       arg_max(json_extract(tr, '$.followers_by_network')::varchar, seq)
           filter (where json_type(tr, '$.followers_by_network') = 'OBJECT') as followers_by_network,
       arg_max(json_extract_string(tr, '$.press'), seq)
           filter (where json_extract_string(tr, '$.press') is not null) as press,
       arg_max(json_extract_string(tr, '$.vip'), seq)
           filter (where json_extract_string(tr, '$.vip') is not null) as vip,
       arg_max(json_extract_string(tr, '$.tier'), seq)
           filter (where json_extract_string(tr, '$.tier') is not null) as tier,
       arg_max(json_extract_string(tr, '$.referrals'), seq)
           filter (where json_extract_string(tr, '$.referrals') is not null) as referrals
from t where tr is not null
group by person_id
"""

_REVIEWS = """
select p.person_id,
       count(*) filter (where public) as public_reviews,
       count(*) filter (where public and rating <= 2 and ts >= ?) as bad_public_reviews,
       max(ts) filter (where public and rating <= 2 and ts >= ?) as last_bad_review_at,
       min(rating) filter (where public and ts >= ?) as worst_recent_rating
from (
    select seq, "timestamp" as ts,
           coalesce(try_cast(json_extract_string(raw, '$.properties.public') as boolean), false) as public,
           try_cast(json_extract_string(raw, '$.properties.rating') as double) as rating
    from events where type = 'track' and event = 'Review Submitted'
) r join event_persons p using (seq)
group by p.person_id
"""

_JOURNEYS = """
select person_id, case_id, contacts, first_at, last_at, resolved, topic, last_seq,
       internal_success, resolution, wait_seconds, transfers, channels, channel_switches,
       succeeded_but_hurt, hurt_reasons
from experience_journeys where last_at >= ?
"""


def read_journeys(con: duckdb.DuckDBPyConnection, since: datetime) -> pd.DataFrame:
    """Service journeys active since ``since``, as the experience stage measured them."""
    return con.execute(_JOURNEYS, [since]).df()


def refresh_traits(con: duckdb.DuckDBPyConnection, *, full: bool = False) -> dict[str, Any]:
    """Keep ``care_traits`` (the influence traits of each person's events): only the people
    whose events changed since the last refresh (:mod:`empatia.store.changes`), or everyone
    with ``full`` (and after an erasure)."""
    changes = changed_persons(con, "care", "traits", full=full)
    con.execute("begin transaction")
    try:
        if changes.full:
            con.execute("delete from care_traits")
            only = ""
        else:
            con.execute(
                f"delete from care_traits where person_id in (select person_id from {CHANGED})"
            )
            only = f"and p.person_id in (select person_id from {CHANGED})"
        if changes.full or changes.persons:
            sql = _TRAITS_FROM_EVENTS.replace("{only}", only)
            con.execute(f"insert into care_traits by name {sql}")
        save_marks(con, changes)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    if changes.full:
        return {"traits": "full" if changes.full == "full" else f"full ({changes.full})"}
    return {"traits": "incremental", "traits_recomputed": len(changes.persons)}


def read_traits(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Influence traits per person: from events (``care_traits``, see :func:`refresh_traits`),
    with ``profile_traits`` winning where it has one."""
    df = con.execute(
        "select person_id, profession, followers, followers_by_network, press, vip, tier,"
        " referrals from care_traits order by person_id"
    ).df()
    pt = con.execute(
        "select person_id, trait, value from profile_traits where trait in (select unnest(?))",
        [[t for t in INFLUENCE_TRAITS if t != "followers_by_network"]],
    ).df()
    if len(pt):
        wide = pt.pivot_table(index="person_id", columns="trait", values="value", aggfunc="last")
        df = df.merge(wide.reset_index(), on="person_id", how="outer", suffixes=("", "_profile"))
        for t in INFLUENCE_TRAITS:
            if f"{t}_profile" in df:
                df[t] = df.pop(f"{t}_profile").where(lambda s: s.notna(), df.get(t))
    for t in INFLUENCE_TRAITS:
        if t not in df:
            df[t] = None
    return df[["person_id", *INFLUENCE_TRAITS]]


def read_values(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("select person_id, clv_12m, revenue from profiles").df()


def read_inputs(
    con: duckdb.DuckDBPyConnection, window_days: float, now: datetime | None = None
) -> Inputs:
    """Read every input: the tables the care stage declares (``empatia.care.stage``)."""
    now = now or as_of(con)
    if now is None:
        now = datetime.now().astimezone()
    since = now - timedelta(days=window_days)
    texts = con.execute(_TEXTS, [since]).df()
    journeys = read_journeys(con, since)
    reviews = con.execute(_REVIEWS, [since, since, since]).df()
    return Inputs(now, texts, journeys, reviews, read_traits(con), read_values(con))
