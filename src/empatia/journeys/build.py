"""Reconstruct every person's steps, sessions and journeys from the event log (Ibis).

Written as Ibis expressions over the engine's tables, so the same code runs on DuckDB and
Spark. Inputs: ``events`` and ``event_persons`` (identity). Outputs: ``journey_steps``,
``journey_sessions``, ``journeys``.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from empatia.journeys.config import StageMap
from empatia.store.changes import CHANGED, Changes, save_marks
from empatia.store.engine import Engine

#: Quiet time that ends a session.
SESSION_MINUTES = 30

#: Events that carry an order / case / booking and so belong to that journey.
_KEYED = {
    "case_id": ("Case Opened", "Support Contact", "Case Resolved", "Message Sent",
                "Call Transcribed"),
    "order_id": ("Checkout Started", "Order Completed", "Order Delivered", "Order Refunded",
                 "Product Returned"),
    "booking_id": ("Booking Created", "Booking Changed", "Booking Fixed"),
}  # fmt: skip
_KIND = {"case_id": ("case", "service"), "order_id": ("order", "purchase"),
         "booking_id": ("booking", "booking")}  # fmt: skip
_OUTCOME = {
    "Order Refunded": "refunded", "Product Returned": "returned", "Order Delivered": "delivered",
    "Order Completed": "completed", "Checkout Started": "abandoned", "Case Resolved": "resolved",
    "Booking Fixed": "fixed", "Booking Changed": "changed", "Booking Created": "booked",
}  # fmt: skip
_OUTCOME_RANK = ["refunded", "returned", "delivered", "completed", "resolved", "fixed",
                 "changed", "booked", "abandoned"]  # fmt: skip


def _stage_expr(step: ir.StringValue, smap: StageMap) -> ir.StringValue:
    cases = [(step == name, stage) for name, stage in smap.exact().items()]
    cases += [(step.startswith(prefix), stage) for prefix, stage in smap.prefixes()]
    if not cases:
        return ibis.null().cast("string")
    return ibis.cases(*cases, else_=ibis.null().cast("string"))


def steps_expr(eng: Engine, smap: StageMap, persons: ir.Table | None = None) -> ir.Table:
    """Every track/page/screen event of a known person (of ``persons``, when given), as a step
    with stage and journey."""
    e = eng.table("events")
    ep = eng.table("event_persons")
    if persons is not None:
        # small tables first: a semi join on them reads only these people's events
        ep = eng.materialize(ep.filter(ep.person_id.isin(persons.person_id)), "ep")
        mine = e.filter(e.seq.isin(ep.seq))
        e = eng.materialize(
            mine.select("seq", "type", "event", "name", "timestamp", "raw"), "events"
        )
    e = e.filter(e.type.isin(["track", "page", "screen"]))
    j = e.join(ep, "seq")
    step = ibis.cases(
        (j.type == "track", j.event.fill_null("(unnamed)")),
        else_=j.type + ":" + j.name.fill_null(""),
    )
    ctx_channel, prop_channel = eng.json_strs(j.raw, ["$.context.channel", "$.properties.channel"])
    channel = ibis.coalesce(
        ctx_channel,
        ibis.cases((j.type == "page", "web"), (j.type == "screen", "app"), else_=prop_channel),
        ibis.literal("unknown"),
    )
    key_parts = []
    for key, events in _KEYED.items():
        prefix = _KIND[key][0] + ":"
        key_parts.append(
            ibis.cases(
                (j.event.isin(list(events)), prefix + eng.json_str(j.raw, f"$.properties.{key}")),
                else_=ibis.null().cast("string"),
            )
        )
    t = j.select(
        seq=j.seq,
        person_id=j.person_id,
        timestamp=j.timestamp,
        step=step,
        channel=channel,
        journey_id=ibis.coalesce(*key_parts),
    )
    t = t.mutate(stage=_stage_expr(t.step, smap))
    w = ibis.window(group_by=t.person_id, order_by=[t.timestamp, t.seq])
    prev = t.timestamp.lag().over(w)
    # timestamps compared, not epoch seconds: Spark's are whole seconds, DuckDB's not
    later = t.timestamp > prev + ibis.interval(minutes=SESSION_MINUTES)
    t = t.mutate(new_session=(prev.isnull() | later).cast("int32"))
    cw = ibis.cumulative_window(group_by=t.person_id, order_by=[t.timestamp, t.seq])
    t = t.mutate(session_no=t.new_session.sum().over(cw).cast("int32"))
    return t.drop("new_session")


def sessions_expr(steps: ir.Table) -> ir.Table:
    g = steps.group_by(["person_id", "session_no"])
    return g.aggregate(
        started_at=steps.timestamp.min(),
        ended_at=steps.timestamp.max(),
        events=steps.seq.count(),
        channel=steps.channel.argmin(steps.seq),  # where the session started
        first_step=steps.step.argmin(steps.seq),
        last_step=steps.step.argmax(steps.seq),
        converted=(steps.step == "Order Completed").any(),
    )


def journeys_expr(steps: ir.Table, smap: StageMap) -> ir.Table:
    s = steps.filter(steps.journey_id.notnull())
    outcome_of = ibis.cases(*[(s.step == ev, oc) for ev, oc in _OUTCOME.items()],
                            else_=ibis.null().cast("string"))  # fmt: skip
    orank = ibis.cases(*[(outcome_of == oc, i) for i, oc in enumerate(_OUTCOME_RANK)], else_=99)
    s = s.mutate(_outcome=outcome_of, _orank=orank)
    kind = ibis.cases(
        (s.journey_id.startswith("case:"), "service"),
        (s.journey_id.startswith("order:"), "purchase"),
        else_="booking",
    )
    s = s.mutate(kind=kind)
    agg = s.group_by("journey_id").aggregate(
        person_id=s.person_id.argmin(s.seq),  # whose first event it was
        kind=s.kind.first(),
        started_at=s.timestamp.min(),
        ended_at=s.timestamp.max(),
        events=s.seq.count(),
        _best=s._orank.min(),  # noqa: SLF001
        _resolved=(s.step == "Case Resolved").any(),
        # stages passed, one flag each (ordered string aggregation is not portable to Spark)
        **{f"_st{i}": (s.stage == st).any() for i, st in enumerate(smap.order)},
    )
    flags = [ibis.cases((agg[f"_st{i}"], "," + st), else_="") for i, st in enumerate(smap.order)]
    joined = flags[0]
    for f in flags[1:]:
        joined = joined + f
    out = agg.mutate(stages=joined.substr(1).nullif("")).drop(
        *[f"_st{i}" for i in range(len(smap.order))]
    )
    outcome = ibis.cases(
        *[(out._best == i, oc) for i, oc in enumerate(_OUTCOME_RANK)],  # noqa: SLF001
        else_=ibis.null().cast("string"),
    )
    outcome = ibis.cases(
        (out.kind == "service", ibis.cases((out._resolved, "resolved"), else_="open")),  # noqa: SLF001
        else_=outcome,
    )
    return out.mutate(outcome=outcome).drop("_best", "_resolved")


def build(eng: Engine, smap: StageMap, progress: Any = None) -> dict[str, int]:
    """Rebuild ``journey_steps``, ``journey_sessions`` and ``journeys``; return row counts."""
    steps = eng.materialize(steps_expr(eng, smap), "journey_steps")
    n_steps = eng.write(steps, "journey_steps")
    if progress is not None:
        progress.advance(1)
    n_sessions = eng.write(sessions_expr(steps), "journey_sessions")
    if progress is not None:
        progress.advance(1)
    n_journeys = eng.write(journeys_expr(steps, smap), "journeys")
    if progress is not None:
        progress.advance(1)
    eng.drop_temp(steps)
    return {"steps": n_steps, "sessions": n_sessions, "journeys": n_journeys}


def update(eng: Engine, con: Any, smap: StageMap, changes: Changes) -> dict[str, int]:
    """Rebuild the steps and sessions of the people of ``changes``, and every journey any of
    their steps belongs (or belonged) to — with the steps of whoever else shares it — and
    remember what was seen, in one transaction (``con``: the engine's DuckDB cursor)."""
    people = eng.table(CHANGED)
    steps = eng.materialize(steps_expr(eng, smap, people), "new_steps")
    old = eng.table("journey_steps").semi_join(people, "person_id")
    ids = old.select("journey_id").union(steps.select("journey_id"))
    ids = eng.materialize(ids.filter(ids.journey_id.notnull()).distinct(), "journey_ids")
    mine = f"person_id in (select person_id from {CHANGED})"
    with eng.transaction():
        eng.write(steps, "journey_steps", where=mine)
        eng.write(sessions_expr(steps), "journey_sessions", where=mine)
        touched = eng.table("journey_steps").semi_join(ids, "journey_id")
        eng.write(journeys_expr(touched, smap), "journeys",
                  where=f"journey_id in (select journey_id from {ids.get_name()})")  # fmt: skip
        row = con.execute("select (select count(*) from journey_steps),"
                          " (select count(*) from journey_sessions), (select count(*) from journeys),"
                          f" (select count(*) from {ids.get_name()})").fetchone()  # fmt: skip
        save_marks(con, changes)
    eng.drop_temp(steps)
    eng.drop_temp(ids)
    assert row is not None
    return {"steps": row[0], "sessions": row[1], "journeys": row[2], "journeys_rebuilt": row[3]}
