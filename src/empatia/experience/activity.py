"""Still active (chance): the rhythm's chance, moved by what the person said and went through.

The chance that the person is still around (the activity rhythm's Pareto/NBD model, fitted in
:mod:`~empatia.experience.activity_fit`; on a store too small to fit it, the purchase model's
``profiles.p_alive``) is moved, in log-odds, by what happened to them since their last
purchase, each driver with a weight fitted on the store's own past and pulled toward its
hand-set value (:class:`~empatia.experience.config.ExperienceConfig`, ``active_*``; a weight of
2 divides the odds by e² ≈ 7.4):

- ``threat`` (3.0): threatened to leave, go public or go to court (an escalation cue);
- ``hurt_case`` (2.0): went through a case the company calls a success but that hurt them;
- ``hurt_words`` (1.5): wrote angry, frustrated or very negative words, no kind word since;
- ``open_case`` (1.0): has a case still open;
- ``repeat`` (1.0): contacted us again and again about one thing (a repeat case, or many
  contacts in one);
- ``worsening`` (1.0): their mood trajectory is falling (latest words after their last order);
- ``quiet`` (1.0 per e-fold): did nothing themselves (no visit, order, message) for longer
  than their own rhythm: the days since, over their usual gap between active days (at least
  30 days; 30 for who was active on one day only), as the purchase model reads orders.

A purchase after a driver cancels it: people who bought again after a complaint are still
customers. ``p_active`` is null where the purchase model has no ``p_alive`` (never bought).
The page lists the drivers that lowered the chance (weight above 0), strongest first, and the
quiet spell, which also explains a low rhythm chance.

The person's own facts (last order, last activity, latest threat, hurt and kind words) are
kept per person and recomputed when their events change (``empatia.store.changes``); the
drivers and ``p_active`` are recomputed for everyone at each run (they depend on "now", on
profiles' ``p_alive`` and on the service journeys), from small per-person tables.
"""

from __future__ import annotations

import json

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from empatia.emotion.lexicon import ESCALATION_KINDS
from empatia.experience._ibis import in_people
from empatia.experience.config import ExperienceConfig
from empatia.store.engine import Engine

#: The purchase model is never taken as surer than this (either way) before it is moved.
SURE = 0.99
#: What the person did themselves: shows they are still around.
ACTIVE_EVENTS = ("Order Completed", "Product Viewed", "Product Added", "Checkout Started",
                 "Booking Created", "Review Submitted", "Support Contact", "Message Sent",
                 "Case Opened", "Survey Answered")  # fmt: skip
#: How each cue reads in a driver.
THREAT_WORDS = {"leave": "threatened to leave", "public": "threatened to go public",
                "legal": "threatened legal action"}  # fmt: skip


def _facts_sql(cfg: ExperienceConfig, texts: bool, only: str | None, until: str | None = None
               ) -> str:  # fmt: skip
    """(SQL, for the fit of the weights on the store's past: :func:`facts_expr` in Ibis)
    Per person: last order, last activity, latest threat, hurt and kind words (``until``: a
    SQL timestamp; only what happened by then, as the fit of the weights sees the past)."""
    where = f"where person_id in (select person_id from {only})" if only else ""
    by = f'where "timestamp" <= {until}' if until else ""
    names = ", ".join(f"'{e}'" for e in ACTIVE_EVENTS)
    active = f"(e.type in ('page', 'screen') or e.event in ({names}))"
    kinds = ", ".join(f"'{k}'" for k in ESCALATION_KINDS)
    text_cte = (
        f"""
        tx as (
            select ep.person_id, a.seq, a."timestamp" as ts, a.score, a.anger, a.frustration,
                   list_filter(json_extract_string(a.escalation, '$[*].cue'),
                               lambda c: c in ({kinds})) as threats
            from (select * from text_analysis {by}) a join ep using (seq)
        ),
        tf as (
            select person_id,
                max(ts) filter (where len(threats) > 0) as threat_at,
                arg_max(threats[1], (ts, seq)) filter (where len(threats) > 0) as threat_cue,
                arg_max(seq, (ts, seq)) filter (where len(threats) > 0) as threat_seq,
                max(ts) filter (where {_hurt(cfg)}) as hurt_at,
                arg_max(seq, (ts, seq)) filter (where {_hurt(cfg)}) as hurt_seq,
                max(ts) filter (where score >= {float(cfg.active_kind)}) as kind_at
            from tx group by person_id
        )"""
        if texts
        else """
        tf as (select null::varchar as person_id, null::timestamptz as threat_at,
                      null::varchar as threat_cue, null::bigint as threat_seq,
                      null::timestamptz as hurt_at, null::bigint as hurt_seq,
                      null::timestamptz as kind_at where false)"""
    )
    return f"""
    with ep as (select seq, person_id from event_persons {where}),
    ev as (
        select ep.person_id,
            max(e."timestamp") filter (where e.event = 'Order Completed') as last_order_at,
            max(e."timestamp") filter (where {active}) as last_active_at,
            min(e."timestamp") filter (where {active}) as first_active_at,
            count(distinct date_trunc('day', e."timestamp")) filter (where {active})
                as active_days
        from (select * from events {by}) e join ep using (seq) group by ep.person_id
    ), {text_cte}
    select ev.person_id, ev.last_order_at, ev.last_active_at, ev.first_active_at,
           ev.active_days, tf.threat_at, tf.threat_cue,
           tf.threat_seq, tf.hurt_at, tf.hurt_seq, tf.kind_at
    from ev left join tf using (person_id)
    """


def _hurt(cfg: ExperienceConfig) -> str:
    a = float(cfg.active_angry)
    return (f"(coalesce(anger, 0) >= {a} or coalesce(frustration, 0) >= {a}"
            f" or coalesce(score, 0) <= {float(cfg.active_negative)})")  # fmt: skip


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


#: The drivers, in the order of ``ExperienceConfig.active_<code>`` (their default weights).
DRIVERS = ("threat", "hurt_case", "hurt_words", "open_case", "repeat", "worsening", "quiet")


def default_weights(cfg: ExperienceConfig) -> dict[str, float]:
    """The hand-set weights (how much each driver lowers the log-odds), used until a store
    has history enough to fit its own (:mod:`empatia.experience.activity_fit`)."""
    return {d: float(getattr(cfg, f"active_{d}")) for d in DRIVERS}


def drivers_sql(cfg: ExperienceConfig, weights: dict[str, float], *, p_alive: bool,
                base: str | None = None, facts: str = "experience_activity",
                at: str | None = None, trajectories: str = "experience_trajectories") -> str:  # fmt: skip
    """Everyone's drivers, ``p_active`` and the strongest driver in words.

    ``weights``: per driver, how much one unit lowers the log-odds. ``p_alive``: the profiles
    table has that column. ``base``: a table ``(person_id, p_base)`` holding the chance the
    drivers move (default: the purchase model's ``p_alive``). ``facts``, ``at`` (a SQL
    timestamp) and ``trajectories``: the same as of a past moment, for the fit; the service
    journeys are then read as they stood at ``at``. Each driver's value is in ``x_<code>``.
    """
    since = "not coalesce(f.last_order_at > {at}, false)"  # no purchase after it
    profiles = (
        "select person_id, p_alive from profiles"
        if p_alive
        else "select null::varchar as person_id, null::double as p_alive where false"
    )
    base_sql = base or "select person_id, p_alive as p_base from profiles where false"
    journeys = (
        f"""(select * replace (least(last_at, {at}) as last_at,
                 resolved and last_at <= {at} as resolved,
                 succeeded_but_hurt and last_at <= {at} as succeeded_but_hurt)
             from experience_journeys where first_at <= {at})"""
        if at
        else "experience_journeys"
    )
    q = float(cfg.active_quiet_days)
    days = "round((epoch(n.now) - epoch({at})) / 86400)::bigint"
    ago = f"(case when {days} < 1 then 'today' when {days} = 1 then 'yesterday'" \
          f" else {days} || ' days ago' end)"  # fmt: skip
    cues = " ".join(f"when '{k}' then '{v}'" for k, v in THREAT_WORDS.items())
    weight = (
        "(case x.code "
        + " ".join(f"when '{d}' then {float(weights.get(d, 0.0))}" for d in DRIVERS)
        + " else 0.0 end)"
    )
    xs = ", ".join(
        f"coalesce(list_sum(list_transform(list_filter(ds, lambda x: x.code = '{d}'),"
        f" lambda x: x.x)), 0) as x_{d}"
        for d in DRIVERS
    )
    return f"""
    with n as ({f"select {at} as now" if at else 'select max("timestamp") as now from events'}),
    f0 as (select a.* exclude (p_alive), p.p_alive, b.p_base,
               case when a.active_days >= 2 then (epoch(a.last_active_at)
                    - epoch(a.first_active_at)) / 86400 / (a.active_days - 1) end as gap
           from {facts} a left join ({profiles}) p using (person_id)
           left join ({base_sql}) b using (person_id)),
    f as (select *, greatest(coalesce(gap, {q}), {q}) as usual from f0),
    j as (
        select j.person_id,
            count(*) filter (where not coalesce(j.resolved, false)
                             and {since.format(at="j.last_at")}) as open_cases,
            min(j.first_at) filter (where not coalesce(j.resolved, false)
                                    and {since.format(at="j.last_at")}) as open_since,
            max(j.last_at) filter (where j.succeeded_but_hurt
                                   and {since.format(at="j.last_at")}) as hurt_case_at,
            arg_max(j.hurt_reasons, j.last_at) filter (where j.succeeded_but_hurt
                                   and {since.format(at="j.last_at")}) as hurt_case_why,
            arg_max({{'at': j.last_at, 'contacts': j.contacts, 'topic': j.topic,
                      'repeat': j.repeat_contact}}, j.last_at) filter (
                where (j.repeat_contact or j.contacts >= {int(cfg.hurt_contacts)})
                  and {since.format(at="j.last_at")}) as rep
        from {journeys} j join f using (person_id) group by j.person_id
    ),
    t as (select person_id, direction, last_at from {trajectories}),
    d as (
        select f.person_id, f.p_alive, f.p_base, f.last_order_at, n.now,
            list_filter([
                case when f.threat_at is not null and {since.format(at="f.threat_at")} then
                    {{'x': 1.0, 'code': 'threat',
                      'words': (case f.threat_cue {cues} else 'threatened to leave' end)
                               || ' ' || {ago.format(at="f.threat_at")}}} end,
                case when j.hurt_case_at is not null then
                    {{'x': 1.0, 'code': 'hurt_case',
                      'words': 'a case that hurt (' || coalesce(j.hurt_case_why, 'high effort')
                               || ') ended ' || {ago.format(at="j.hurt_case_at")}}} end,
                case when f.hurt_at is not null and {since.format(at="f.hurt_at")}
                          and not coalesce(f.kind_at > f.hurt_at, false) then
                    {{'x': 1.0, 'code': 'hurt_words',
                      'words': 'angry or hurt words ' || {ago.format(at="f.hurt_at")}
                               || ', nothing bought since'}} end,
                case when coalesce(j.open_cases, 0) > 0 then
                    {{'x': 1.0, 'code': 'open_case',
                      'words': (case when j.open_cases = 1 then 'a case still open'
                                     else j.open_cases || ' cases still open' end)
                               || ' since ' || {ago.format(at="j.open_since")}}} end,
                case when j.rep is not null then
                    {{'x': 1.0, 'code': 'repeat',
                      'words': (case when j.rep.repeat then 'contacted us again'
                                     else j.rep.contacts || ' contacts' end)
                               || coalesce(' about ' || j.rep.topic, '') || ', '
                               || {ago.format(at="j.rep.at")}}} end,
                case when t.direction = 'worsening' and {since.format(at="t.last_at")} then
                    {{'x': 1.0, 'code': 'worsening',
                      'words': 'mood worsening (latest words ' || {ago.format(at="t.last_at")}
                               || ')'}} end,
                case when f.last_active_at is not null
                          and (epoch(n.now) - epoch(f.last_active_at)) / 86400 > f.usual then
                    {{'x': ln((epoch(n.now) - epoch(f.last_active_at)) / 86400 / f.usual),
                      'code': 'quiet',
                      'words': 'nothing from them for ' || {days.format(at="f.last_active_at")}
                               || ' days' || coalesce(' (usually every '
                               || round(f.gap)::bigint || ' days)', '')}} end
            ], lambda x: x is not null) as ds0
        from f cross join n left join j using (person_id) left join t using (person_id)
    ),
    s as (
        select *, list_transform(ds0, lambda x: {{'w': x.x * {weight}, 'code': x.code,
                                                 'words': x.words, 'x': x.x}}) as ds
        from d
    ),
    s2 as (select *, list_sum(list_transform(ds, lambda x: x.w)) as total,
                  coalesce(p_base, p_alive) as p0,
                  -- what lowered it; quiet also says why the rhythm's own chance is low
                  list_filter(ds, lambda x: x.w > 0 or x.code = 'quiet') as shown
           from s)
    select person_id, p_alive,
        case when p_alive is not null then 1 / (1 + exp(-(
            ln(least(greatest(p0, {1 - SURE}), {SURE})
               / (1 - least(greatest(p0, {1 - SURE}), {SURE})))
            - coalesce(total, 0)))) end as p_active,
        nullif(array_to_string(list_transform(
            list_sort(list_transform(shown, lambda x: {{'w': x.w, 'code': x.code}}), 'DESC'),
            lambda x: x.code), ','), '') as drivers,
        list_sort(list_transform(shown, lambda x: {{'w': x.w, 'words': x.words}}), 'DESC')[1]
            .words as driver,
        now as as_of, p_base, last_order_at, {xs}
    from s2
    """


#: Rows of :func:`threat_cues`: a text's first churn threat (an escalation cue of
#: :data:`~empatia.emotion.lexicon.ESCALATION_KINDS`), texts without one left out.
THREATS = pa.schema([("seq", pa.int64()), ("threat", pa.string())])


def threat_cues(batch: pa.RecordBatch) -> pa.Table:
    """A Python step (:meth:`~empatia.store.engine.Engine.map_batches`): per text
    (``seq, escalation`` as JSON text), its first cue that is a churn threat."""
    seqs, cues = [], []
    for seq, doc in zip(batch.column("seq").to_pylist(), batch.column("escalation").to_pylist(),
                        strict=True):  # fmt: skip
        try:
            items = json.loads(doc) if doc else []
        except ValueError:
            continue
        found = next((x["cue"] for x in items if isinstance(x, dict)
                      and isinstance(x.get("cue"), str) and x["cue"] in ESCALATION_KINDS), None)  # fmt: skip
        if found is not None:
            seqs.append(seq)
            cues.append(found)
    return pa.table({"seq": pa.array(seqs, pa.int64()), "threat": pa.array(cues, pa.string())})


def _text_facts(eng: Engine, cfg: ExperienceConfig, ep: ir.Table) -> ir.Table:
    """Per person: their latest threat (cue and seq), latest hurt words, latest kind words."""
    a = eng.table("text_analysis")
    tx = a.join(ep, "seq").select("person_id", "seq", "score", "anger", "frustration",
                                  ts=a["timestamp"], escalation=a.escalation.cast("string"))  # fmt: skip
    esc = tx.filter(tx.escalation.notnull()).select("seq", "escalation")
    threats = eng.map_batches(esc, threat_cues, THREATS, "experience_threats")
    tx = tx.left_join(threats, "seq").drop("seq_right")
    ang = float(cfg.active_angry)
    hurt = ((tx.anger.fill_null(0) >= ang) | (tx.frustration.fill_null(0) >= ang)
            | (tx.score.fill_null(0) <= float(cfg.active_negative)))  # fmt: skip
    tx = tx.mutate(is_threat=tx.threat.notnull(), is_hurt=hurt)
    order = [tx.ts.desc(), tx.seq.desc()]
    tx = tx.mutate(
        rt=ibis.row_number().over(group_by=[tx.person_id, tx.is_threat], order_by=order),
        rh=ibis.row_number().over(group_by=[tx.person_id, tx.is_hurt], order_by=order),
    )
    last_threat = tx.is_threat & (tx.rt == 0)
    last_hurt = tx.is_hurt & (tx.rh == 0)
    return tx.group_by("person_id").aggregate(
        threat_at=tx.ts.max(where=last_threat),
        threat_cue=tx.threat.max(where=last_threat),
        threat_seq=tx.seq.max(where=last_threat),
        hurt_at=tx.ts.max(where=last_hurt),
        hurt_seq=tx.seq.max(where=last_hurt),
        kind_at=tx.ts.max(where=tx.score >= float(cfg.active_kind)),
    )


def facts_expr(eng: Engine, cfg: ExperienceConfig, texts: bool,
               people: ir.Table | None = None) -> ir.Table:  # fmt: skip
    """Per person (``people``: only theirs): last order, first and last activity, active
    days, latest threat, hurt and kind words — the facts columns of ``experience_activity``."""
    ep = in_people(eng.table("event_persons").select("seq", "person_id"), people)
    ev = eng.table("events")
    e = ev.select("seq", "type", "event", ts=ev["timestamp"]).join(ep, "seq")
    active = e.type.isin(("page", "screen")) | e.event.isin(ACTIVE_EVENTS)
    facts = e.group_by("person_id").aggregate(
        last_order_at=e.ts.max(where=e.event == "Order Completed"),
        last_active_at=e.ts.max(where=active),
        first_active_at=e.ts.min(where=active),
        active_days=e.ts.truncate("D").nunique(where=active),
    )
    if not texts:
        return facts
    return facts.left_join(_text_facts(eng, cfg, ep), "person_id").drop("person_id_right")


def build_facts(eng: Engine, cfg: ExperienceConfig, texts: bool, changed: str | None) -> int:
    """Recompute the facts of the people in the temp table ``changed`` (``person_id``, on the
    engine's store cursor; ``None``: everyone), in the caller's transaction. Returns the rows
    written."""
    people = eng.table(changed) if changed else None
    where = f"person_id in (select person_id from {changed})" if changed else None
    return eng.write(facts_expr(eng, cfg, texts, people), "experience_activity", where=where)
