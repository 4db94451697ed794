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


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_name = ?", [table]
    ).fetchall()}  # fmt: skip


@dataclass
class Inputs:
    """Everything scoring needs; each frame has a ``person_id`` column."""

    as_of: datetime
    texts: pd.DataFrame  # recent text touchpoints with their analysis
    journeys: pd.DataFrame  # service journeys active in the window
    reviews: pd.DataFrame  # per person: public reviews (all time), bad public ones (window)
    traits: pd.DataFrame  # per person: the influence traits
    values: pd.DataFrame  # per person: clv_12m, revenue
    sources: dict[str, str]  # which table each input came from (for the figures)


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

_JOURNEYS_FROM_EVENTS = """
with ev as (
    select e.seq, e."timestamp" as ts, e.event,
           json_extract_string(e.raw, '$.properties.case_id') as case_id,
           json_extract_string(e.raw, '$.properties.topic') as topic,
           coalesce(json_extract_string(e.raw, '$.properties.channel'),
                    json_extract_string(e.raw, '$.context.channel')) as channel,
           try_cast(json_extract_string(e.raw, '$.properties.wait_seconds') as double) as wait_seconds,
           try_cast(json_extract_string(e.raw, '$.properties.transferred') as boolean) as transferred,
           try_cast(json_extract_string(e.raw, '$.properties.internal_success') as boolean) as internal_success,
           json_extract_string(e.raw, '$.properties.resolution') as resolution,
           p.person_id
    from events e join event_persons p using (seq)
    where e.type = 'track' and e.event in ('Case Opened', 'Support Contact', 'Case Resolved',
                                           'Message Sent', 'Call Transcribed')
      and json_extract_string(e.raw, '$.properties.case_id') in (
          select json_extract_string(raw, '$.properties.case_id') from events
          where type = 'track' and event in ('Case Opened', 'Support Contact', 'Case Resolved')
            and "timestamp" >= ?)
), owner as (
    select case_id, mode(person_id) as person_id from ev group by case_id
), per_case as (
    select case_id,
           any_value(topic) filter (where topic is not null) as topic,
           count(*) filter (where event = 'Support Contact') as contacts,
           min(ts) filter (where event in ('Case Opened', 'Support Contact')) as first_at,
           max(ts) as last_at,
           max(seq) as last_seq,
           bool_or(event = 'Case Resolved') as resolved,
           bool_or(coalesce(internal_success, false)) as internal_success,
           any_value(resolution) filter (where resolution is not null) as resolution,
           coalesce(sum(wait_seconds) filter (where event = 'Support Contact'), 0) as wait_seconds,
           count(*) filter (where event = 'Support Contact' and transferred) as transfers,
           count(distinct channel) filter (where event = 'Support Contact') as channels,
           string_agg(channel, ',' order by ts) filter (where event = 'Support Contact') as channel_path
    from ev group by case_id
)
select o.person_id, c.*, null::boolean as succeeded_but_hurt
from per_case c join owner o using (case_id)
"""


def _switches(path: str | None) -> int:
    if not path:
        return 0
    chans = path.split(",")
    return sum(a != b for a, b in zip(chans, chans[1:], strict=False))


def read_journeys(con: duckdb.DuckDBPyConnection, since: datetime) -> tuple[pd.DataFrame, str]:
    """Service journeys active since ``since``: from experience's table, else from events."""
    row = con.execute("select count(*) from experience_journeys").fetchone() if has_table(
        con, "experience_journeys") else None  # fmt: skip
    if row and row[0]:  # the experience stage has run
        cols = columns(con, "experience_journeys")
        need = {"person_id", "case_id", "contacts", "first_at", "last_at", "resolved"}
        if need <= cols:
            pick = ["person_id", "case_id", "contacts", "first_at", "last_at", "resolved"]
            opt = {"topic": "null::varchar", "last_seq": "null::bigint",
                   "internal_success": "null::boolean", "resolution": "null::varchar",
                   "wait_seconds": "0::double", "transfers": "0::bigint",
                   "channels": "1::bigint", "channel_switches": "0::bigint",
                   "succeeded_but_hurt": "null::boolean", "hurt_reasons": "null::varchar"}  # fmt: skip
            sel = ", ".join(pick + [c if c in cols else f"{d} as {c}" for c, d in opt.items()])
            df = con.execute(
                f"select {sel} from experience_journeys where last_at >= ?", [since]
            ).df()
            return df, "experience_journeys"
    df = con.execute(_JOURNEYS_FROM_EVENTS, [since]).df()
    df["hurt_reasons"] = None
    df["channel_switches"] = df.pop("channel_path").map(_switches) if len(df) else 0
    return df, "events"


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
    if has_table(con, "profile_traits"):
        pt = con.execute(
            "select person_id, trait, value from profile_traits where trait in (select unnest(?))",
            [[t for t in INFLUENCE_TRAITS if t != "followers_by_network"]],
        ).df()
        if len(pt):
            wide = pt.pivot_table(
                index="person_id", columns="trait", values="value", aggfunc="last"
            )
            wide = wide.reset_index()
            df = df.merge(wide, on="person_id", how="outer", suffixes=("", "_profile"))
            for t in INFLUENCE_TRAITS:
                if f"{t}_profile" in df:
                    df[t] = df.pop(f"{t}_profile").where(lambda s: s.notna(), df.get(t))
    for t in INFLUENCE_TRAITS:
        if t not in df:
            df[t] = None
    return df[["person_id", *INFLUENCE_TRAITS]]


def read_values(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not has_table(con, "profiles"):
        return pd.DataFrame(columns=["person_id", "clv_12m", "revenue"])
    cols = columns(con, "profiles")
    sel = ["person_id"] + [
        c if c in cols else f"null::double as {c}" for c in ("clv_12m", "revenue")
    ]
    return con.execute(f"select {', '.join(sel)} from profiles").df()


def read_inputs(
    con: duckdb.DuckDBPyConnection, window_days: float, now: datetime | None = None
) -> Inputs:
    """Read every input; tables that are not there yet give empty frames."""
    now = now or as_of(con)
    if now is None:
        now = datetime.now().astimezone()
    since = now - timedelta(days=window_days)
    sources: dict[str, str] = {}
    if has_table(con, "text_analysis"):
        texts = con.execute(_TEXTS, [since]).df()
        sources["texts"] = "text_analysis"
    else:
        texts = pd.DataFrame(columns=["person_id", "seq", "at", "event", "channel", "language",
                                      "sentiment", "score", "anger", "frustration",
                                      "dominant_emotion", "escalation", "effort"])  # fmt: skip
        sources["texts"] = "missing (run the emotion stage)"
    journeys, sources["journeys"] = read_journeys(con, since)
    reviews = con.execute(_REVIEWS, [since, since, since]).df()
    return Inputs(now, texts, journeys, reviews, read_traits(con), read_values(con), sources)
