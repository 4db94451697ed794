"""Effort per service journey and "succeeded but hurt" (S4).

One row per support case in ``experience_journeys``: contacts and steps to resolution,
channel switches, transfers, total and live wait, repeat contacts on the same topic, age of
open cases, the customer's words (sentiment from the emotion stage), the company's own view
(``internal_success``, self-rating), and what happened after (bought again, left, went
public). A journey *succeeded but hurt* when the company's records call it a success while
the effort was high or the customer's words were negative; ``hurt_reasons`` says which.
"""

from __future__ import annotations

from typing import Any

import duckdb

from empatia.experience.config import ExperienceConfig
from empatia.store import transaction
from empatia.store.engine import Engine

_CASE_EVENTS = ("Case Opened", "Support Contact", "Case Resolved", "Message Sent",
                "Call Transcribed")  # fmt: skip


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchall()  # no open result left on the engine's cursor
    return bool(rows and rows[0][0])


def journeys_sql(cfg: ExperienceConfig, texts: bool, cases: str | None = None) -> str:
    """One row per case; ``cases``: only those in this table (``case_id``)."""
    ev_list = ", ".join(f"'{e}'" for e in _CASE_EVENTS)
    text_join = "left join text_analysis ta on ta.seq = ev.seq" if texts else ""
    only = (
        f"and e.seq in (select seq from experience_case_events where case_id in"
        f" (select case_id from {cases}))"
        if cases
        else ""
    )
    score = "ta.score" if texts else "null::double"
    return f"""
    with ev as (
        select e.seq, e."timestamp" as ts, e.event, p.person_id,
               json_extract_string(e.raw, '$.properties.case_id') as case_id,
               json_extract_string(e.raw, '$.properties.topic') as topic,
               json_extract_string(e.raw, '$.properties.channel') as channel,
               try_cast(json_extract_string(e.raw, '$.properties.wait_seconds') as double) as wait,
               try_cast(json_extract_string(e.raw, '$.properties.transferred') as boolean) as transferred,
               try_cast(json_extract_string(e.raw, '$.properties.internal_success') as boolean) as internal_success,
               try_cast(json_extract_string(e.raw, '$.properties.agent_rating_internal') as double) as rating,
               json_extract_string(e.raw, '$.properties.resolution') as resolution
        from events e join event_persons p using (seq)
        where e.type = 'track' and e.event in ({ev_list}) {only}
    ), ev2 as (
        select ev.*, {score} as score,
               lag(case when ev.event = 'Support Contact' then ev.channel end ignore nulls)
                   over (partition by ev.case_id order by ev.ts, ev.seq) as prev_channel,
               max(case when ev.event = 'Case Resolved' then ev.ts end)
                   over (partition by ev.case_id) as resolved_ts
        from ev {text_join}
        where ev.case_id is not null
    ), c as (
        select case_id,
            mode(person_id) as person_id,
            any_value(topic) filter (where topic is not null) as topic,
            min(ts) as first_at,
            max(ts) as last_at,
            max(seq) as last_seq,
            count(*) filter (where event = 'Support Contact') as contacts,
            count(*) as steps,
            count(distinct channel) filter (where event = 'Support Contact') as channels,
            count(*) filter (where event = 'Support Contact' and prev_channel is not null
                             and channel <> prev_channel) as channel_switches,
            string_agg(channel, '>' order by ts, seq) filter (where event = 'Support Contact')
                as channel_path,
            count(*) filter (where event = 'Support Contact' and transferred) as transfers,
            coalesce(sum(wait) filter (where event = 'Support Contact'), 0) as wait_seconds,
            coalesce(sum(wait) filter (where event = 'Support Contact' and coalesce(channel, '') <> 'email'), 0)
                as live_wait_seconds,
            bool_or(event = 'Case Resolved') as resolved,
            arg_max(resolution, ts) filter (where event = 'Case Resolved') as resolution,
            bool_or(internal_success) filter (where event = 'Case Resolved') as internal_success,
            avg(rating) filter (where event = 'Support Contact') as self_rating,
            max(ts) filter (where event = 'Case Resolved') as resolved_at,
            count(score) as texts,
            min(score) as min_score,
            arg_max(score, ts) filter (where score is not null) as last_score,
            arg_max(seq, ts) filter (where score is not null) as last_text_seq,
            arg_max(score, ts) filter (where score is not null and ts >= resolved_ts)
                as verdict_score,
            string_agg(seq::varchar, ',' order by score, ts) filter (where score is not null)
                as evidence_seqs
        from ev2 group by case_id
    ), r as (
        select c.*,
            epoch(lag(coalesce(resolved_at, last_at)) over (
                partition by person_id, topic order by first_at)) as prev_end
        from c
    ), nowt as (select max("timestamp") as as_of from events)
    select r.person_id, r.case_id, r.topic, r.first_at, r.last_at, r.last_seq, r.contacts,
        r.steps, r.channels, r.channel_switches, r.channel_path, r.transfers, r.wait_seconds,
        r.live_wait_seconds,
        coalesce(epoch(r.first_at) - r.prev_end <= {float(cfg.repeat_days) * 86400}, false)
            as repeat_contact,
        r.resolved, r.resolution, coalesce(r.internal_success, false) as internal_success,
        r.self_rating,
        (epoch(r.resolved_at) - epoch(r.first_at)) / 86400 as resolution_days,
        case when not r.resolved then (epoch(nowt.as_of) - epoch(r.first_at)) / 86400 end
            as unresolved_age_days,
        r.texts, r.min_score, r.last_score, r.last_text_seq, r.verdict_score,
        array_to_string(list_slice(string_split(r.evidence_seqs, ','), 1, 3), ',') as evidence_seqs,
        nowt.as_of
    from r, nowt
    """


def index_cases(eng: Engine, con: Any, *, full: bool) -> int:
    """Keep ``experience_case_events`` (each service event's case): new events only, or all
    again with ``full``; Ibis on ``eng`` (``con``: its store cursor, for the last event
    indexed). Returns the events added."""
    last = 0
    if not full:
        rows = con.execute("select coalesce(max(seq), 0) from experience_case_events").fetchall()
        last = int(rows[0][0]) if rows else 0
    ev = eng.table("events")
    new = ev.filter(ev.type == "track", ev.event.isin(_CASE_EVENTS), ev.seq > last).select(
        "seq", case_id=eng.json_str(ev.raw, "$.properties.case_id")
    )
    return eng.write(new.filter(new.case_id.notnull()), "experience_case_events", replace=full)


#: The people whose cases an incremental run rebuilds (``person_id``), and those cases.
PEOPLE, CASES = "_emp_exp_people", "_emp_exp_cases"


def affected(con: duckdb.DuckDBPyConnection, changed: str, cfg: ExperienceConfig) -> int:
    """Fill :data:`PEOPLE` and :data:`CASES`: the ``changed`` people, and those whose case
    is old enough now to say whether they left (``left_after`` was not known yet), then,
    until nothing is added, every case with an event of one of them or in their name, and
    everyone with an event in one of those cases (a case belongs to the person with most of
    its events; whether it repeats an earlier one depends on the person's other cases).
    Returns the cases."""
    days = float(cfg.after_days) * 86400
    con.execute(
        "create or replace temp table _emp_exp_ce as select c.seq, c.case_id, p.person_id"
        " from experience_case_events c join event_persons p using (seq)"
    )
    con.execute(f"""
        create or replace temp table {PEOPLE} as
        select person_id from {changed}
        union select person_id from experience_journeys
        where left_after is null
          and epoch((select max("timestamp") from events)) - epoch(last_at) >= {days}
    """)  # fmt: skip
    while True:
        con.execute(f"""
            create or replace temp table {CASES} as
            select case_id from _emp_exp_ce where person_id in (select person_id from {PEOPLE})
            union select case_id from experience_journeys
            where person_id in (select person_id from {PEOPLE})
        """)  # fmt: skip
        row = con.execute(f"""
            insert into {PEOPLE}
            select distinct person_id from (
                select person_id from _emp_exp_ce where case_id in (select case_id from {CASES})
                union all select person_id from experience_journeys
                where case_id in (select case_id from {CASES}))
            where person_id not in (select person_id from {PEOPLE})
        """).fetchone()  # fmt: skip
        if not row or not row[0]:
            break
    row = con.execute(f"select count(*) from {CASES}").fetchone()
    return int(row[0]) if row else 0


def update_journeys(
    eng: Engine, con: duckdb.DuckDBPyConnection, cfg: ExperienceConfig, changed: str
) -> dict[str, int]:
    """Rebuild the cases of the ``changed`` people (see :func:`affected`) in
    ``experience_journeys``, and the "now" of every other row (``as_of``, the age of open
    cases). Runs on ``con`` inside the caller's transaction."""
    texts = _has(con, "text_analysis")
    index_cases(eng, con, full=False)
    n_cases = affected(con, changed, cfg)
    df = con.execute(journeys_sql(cfg, texts, CASES)).df() if n_cases else None
    if df is not None and len(df):
        df = _after(con, _judge(df, cfg), cfg)
    con.execute(f"delete from experience_journeys where case_id in (select case_id from {CASES})")
    if df is not None and len(df):
        con.register("_exp_journeys", df)
        con.execute("insert into experience_journeys by name select * from _exp_journeys")
        con.unregister("_exp_journeys")
    con.execute(
        "update experience_journeys set as_of = n.as_of, unresolved_age_days = case when not"
        " resolved then (epoch(n.as_of) - epoch(first_at)) / 86400 end"
        ' from (select max("timestamp") as as_of from events) n'
    )
    row = con.execute(
        "select count(*), count(*) filter (where succeeded_but_hurt) from experience_journeys"
    ).fetchone()
    assert row is not None
    return {"service_journeys": row[0], "succeeded_but_hurt": row[1], "cases_rebuilt": n_cases}


def _effort(contacts: Any, live_wait: Any, switches: Any, transfers: Any, repeat: Any) -> Any:
    return (
        0.35 * ((contacts - 1).clip(lower=0) / 6).clip(upper=1)
        + 0.25 * (live_wait / 7200).clip(upper=1)
        + 0.2 * (switches / 3).clip(upper=1)
        + 0.1 * (transfers / 2).clip(upper=1)
        + 0.1 * repeat.astype(float)
    )


def build_journeys(con: duckdb.DuckDBPyConnection, cfg: ExperienceConfig) -> dict[str, int]:
    """Rebuild ``experience_journeys``; return counts (journeys, succeeded_but_hurt)."""
    texts = _has(con, "text_analysis")
    cur = con.cursor()
    try:
        df = cur.execute(journeys_sql(cfg, texts)).df()
        if len(df):
            df = _judge(df, cfg)
            df = _after(cur, df, cfg)
        with transaction(cur):  # rolled back on any error
            cur.execute("delete from experience_journeys")
            if len(df):
                cur.register("_exp_journeys", df)
                cur.execute("insert into experience_journeys by name select * from _exp_journeys")
                cur.unregister("_exp_journeys")
    finally:
        cur.close()
    hurt = int(df["succeeded_but_hurt"].sum()) if len(df) else 0
    return {"service_journeys": len(df), "succeeded_but_hurt": hurt}


def _judge(df: Any, cfg: ExperienceConfig) -> Any:
    contacts = df["contacts"].fillna(0).astype(float)
    live = df["live_wait_seconds"].fillna(0).astype(float)
    switches = df["channel_switches"].fillna(0).astype(float)
    transfers = df["transfers"].fillna(0).astype(float)
    repeat = df["repeat_contact"].fillna(False).astype(bool)
    df["effort_score"] = _effort(contacts, live, switches, transfers, repeat).round(3)
    last = df["last_score"].astype(float)
    verdict = df["verdict_score"].astype(float)
    worst = df["min_score"].astype(float)
    # the customer's verdict after the fix; without one, a long journey's last word stands
    words = verdict.where(
        verdict.notna(), last.where(contacts >= cfg.hurt_contacts_without_verdict)
    )
    rules = [
        (contacts >= cfg.hurt_contacts, lambda r: f"{int(r.contacts)} contacts"),
        (live >= cfg.hurt_live_wait_seconds,
         lambda r: f"{r.live_wait_seconds / 3600:.1f} h waiting"),
        (switches >= cfg.hurt_channel_switches, lambda r: f"{int(r.channel_switches)} channel switches"),
        (transfers >= cfg.hurt_transfers, lambda r: f"{int(r.transfers)} transfers"),
        ((contacts >= cfg.hurt_min_contacts_for_words) & (words <= cfg.hurt_last_score),
         lambda r: (f"verdict after the fix negative ({r.verdict_score:+.2f})"
                    if r.verdict_score == r.verdict_score and r.verdict_score is not None
                    else f"last word negative ({r.last_score:+.2f})")),
    ]  # fmt: skip
    success = df["internal_success"].fillna(False).astype(bool) & df["resolved"].fillna(False)
    hit = None
    for mask, _ in rules:
        hit = mask if hit is None else hit | mask
    assert hit is not None
    df["succeeded_but_hurt"] = success & hit
    reasons: list[str | None] = []
    for i, r in enumerate(df.itertuples(index=False)):
        if not df["succeeded_but_hurt"].iat[i]:
            reasons.append(None)
            continue
        parts = [fmt(r) for mask, fmt in rules if bool(mask.iat[i])]
        if not (words.iat[i] <= cfg.hurt_last_score) and worst.iat[i] <= cfg.hurt_last_score:
            parts.append(f"lowest word {worst.iat[i]:+.2f}")
        reasons.append(", ".join(parts))
    df["hurt_reasons"] = reasons
    return df


def _after(cur: duckdb.DuckDBPyConnection, df: Any, cfg: ExperienceConfig) -> Any:
    """Did the person buy again, leave, or complain publicly within ``after_days``?"""
    cur.register("_exp_j", df[["case_id", "person_id", "last_at", "as_of"]])
    days = float(cfg.after_days)
    out = cur.execute(f"""
        with j as (select * from _exp_j),
        act as (
            select p.person_id, e."timestamp" as ts, e.event,
                   e.event = 'Order Completed' as bought,
                   e.event = 'Review Submitted'
                     and coalesce(try_cast(json_extract_string(e.raw, '$.properties.public') as boolean), false)
                     and try_cast(json_extract_string(e.raw, '$.properties.rating') as double) <= 2
                     as public_bad
            from events e join event_persons p using (seq)
            where p.person_id in (select person_id from j)
              and (e.type in ('page', 'screen') or e.event in
                   ('Order Completed', 'Product Viewed', 'Review Submitted', 'Product Added',
                    'Checkout Started', 'Booking Created'))
        )
        select j.case_id,
               coalesce(bool_or(a.bought), false) as bought_after,
               case when epoch(any_value(j.as_of)) - epoch(any_value(j.last_at)) >= {days} * 86400
                    then count(a.ts) = 0 end as left_after,
               coalesce(bool_or(a.public_bad), false) as public_after
        from j left join act a on a.person_id = j.person_id and a.ts > j.last_at
             and a.ts <= j.last_at + to_days({int(days)})
        group by j.case_id
    """).df()  # fmt: skip
    cur.unregister("_exp_j")
    return df.merge(out, on="case_id", how="left")
