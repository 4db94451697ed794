"""Building the special-care list and its alerts from the store (the stage's work).

>>> from empatia.store import Store
>>> with Store(":memory:") as s:
...     run_care(s.con)["listed"]
0
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis import _

from empatia.errors import ConsentError
from empatia.care.alerts import cases_expr, create_alerts, latest_cases
from empatia.care.config import CareWeights, load_weights
from empatia.care.delivery import Sink, deliver_pending
from empatia.care.inputs import engine_of, people_expr, refresh_traits, scalar, since_of
from empatia.care.step import SCORED, entries, score_batch
from empatia.privacy.consent import current_expr, purpose_key, use_purposes
from empatia.store.engine import Engine, union

__all__ = ["entries", "run_care", "withdrawn"]

#: The columns of ``care_list``.
LIST_SCHEMA = pa.schema([
    ("rank", pa.int32()), ("person_id", pa.string()), ("influence", pa.float64()),
    ("risk", pa.float64()), ("value", pa.float64()), ("score", pa.float64()),
    ("explanation", pa.string()), ("evidence", pa.string()), ("status", pa.string()),
    ("alert_id", pa.string()), ("last_seq", pa.int64()), ("computed_at", pa.timestamp("us", tz="UTC")),
])  # fmt: skip


def withdrawn(eng: Engine, purposes: list[str]) -> ir.Table:
    """The people who withdrew one of ``purposes``: their latest ``Consent Updated`` event for
    it says not granted, or privacy's ``consent_current`` does."""
    ev = eng.table("events")
    ev = ev.filter((ev.type == "track") & (ev.event == "Consent Updated"))
    js = partial(eng.json_str, ev.raw)
    c = ev.select("seq", purpose=js("$.properties.purpose"),
                  granted=js("$.properties.granted").try_cast("boolean"))  # fmt: skip
    c = c.filter(c.purpose.isin(purposes) & c.granted.notnull())
    c = c.join(eng.table("event_persons").select("seq", "person_id"), "seq")
    w = ibis.window(group_by=["person_id", "purpose"], order_by=ibis.desc("seq"))
    latest = c.mutate(r=ibis.row_number().over(w)).filter(lambda t: (t.r == 0) & ~t.granted)
    cc = current_expr(eng.table, identity=True)
    cc = cc.filter(cc.purpose.isin(purposes) & ~cc.granted)
    return union(latest.select("person_id"), cc.select("person_id"), distinct=True)


def run_care(
    con: duckdb.DuckDBPyConnection | Any,
    weights: CareWeights | None = None,
    *,
    deliver: bool = True,
    sinks: dict[str, Sink] | None = None,
    sleep: Callable[[float], None] | None = None,
    now: datetime | None = None,
    full: bool = False,
    eng: Engine | None = None,
) -> dict[str, Any]:
    """Score everyone at risk, rewrite ``care_list``, create alerts, deliver them.

    The list is a ranking of everyone with signals in the recent window, so it is scored
    whole every time; the influence traits read from the whole event log are kept per person
    and refreshed only for the people whose events changed (``full``: for everyone).

    The tables are built on ``eng`` (a DuckDB engine on ``con`` when not given): the inputs
    and ``care_traits`` are Ibis expressions there, one packed row per person at risk
    (:func:`~empatia.care.inputs.people_expr`); scoring and explaining them is the engine's
    Python model step (:func:`~empatia.care.step.score_batch`); leaving out who withdrew
    consent or whose resolved case is quiet, and ranking, are Ibis again; only the list's top
    (``alerts.max_list`` rows) comes to the driver, to decide alerts (few, stateful) and be
    written to ``care_list`` and ``care_alerts`` through the engine. Delivery (``deliver``)
    posts to webhooks from ``con``, after."""
    w = weights or load_weights()
    with engine_of(eng if eng is not None else con) as e:
        figures, listed, cases, computed_at = _score(e, w, full, now)
        created = create_alerts(e, listed, cases, w)
        rows = [{**x, "rank": i + 1, "evidence": json.dumps(x["evidence"], default=str),
                 "status": x.get("status", "new"), "alert_id": x.get("alert_id"),
                 "computed_at": computed_at} for i, x in enumerate(listed)]  # fmt: skip
        listing = e.from_arrow(pa.Table.from_pylist(rows, schema=LIST_SCHEMA), "care_rows")
        e.write(listing, "care_list")
        e.drop_temp(listing)
    figures |= {
        "listed": len(listed),
        "entered": sum(a["kind"] == "entered" for a in created),
        "worsened": sum(a["kind"] == "worsened" for a in created),
    }  # fmt: skip
    if deliver:
        kw: dict[str, Any] = {"sinks": sinks}
        if sleep is not None:
            kw["sleep"] = sleep
        figures |= {k: v for k, v in deliver_pending(con, w.delivery, **kw).items() if v}
    return figures


def _score(
    eng: Engine, w: CareWeights, full: bool, now: datetime | None
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict[str, Any]], datetime]:
    """Refresh the traits, score the people at risk, leave out who may not be contacted or
    whose resolved case is quiet, rank the rest: the figures, the list's entries, the cases
    (latest alerts) and "now"."""
    refreshed = refresh_traits(eng, full=full)
    now, since = since_of(eng, w.risk.window_days, now)
    step = partial(score_batch, now=now, w=w)
    scored = eng.map_batches(people_expr(eng, since), step, SCORED, "care_scored")
    figures: dict[str, Any] = {"at_risk": int(scalar(eng, scored.count())), **refreshed}
    keep, temps = scored, [scored]
    if figures["at_risk"]:
        out = eng.materialize(withdrawn_of(eng, w), "care_withdrawn")
        temps.append(out)
        figures["excluded_by_consent"] = int(scalar(eng, keep.semi_join(out, "person_id").count()))
        keep = keep.anti_join(out, "person_id")
    keep = keep.filter(keep.score >= w.alerts.min_score)
    cases: dict[str, dict[str, Any]] = {}
    if figures["at_risk"] and scalar(eng, keep.count()):
        c = cases_expr(eng)
        c = c.select(cid=c.person_id, status=c.status,
                     seen=ibis.coalesce(c.resolved_seq, c.last_seq))  # fmt: skip
        k = keep.left_join(c, keep.person_id == c.cid)
        # a resolved case with nothing newer than what was seen at resolution: off the list
        quiet = (k.status == "resolved").fill_null(False) & (
            k.last_seq.isnull() | k.seen.isnull() | (k.last_seq <= k.seen)
        )
        k = k.mutate(quiet=quiet)
        figures["resolved_quiet"] = int(scalar(eng, k.filter(_.quiet).count()))
        keep = k.filter(~_.quiet).select(*SCORED.names)
    top = keep.order_by([ibis.desc("score"), "person_id"]).limit(w.alerts.max_list)
    listed = [{**r, "evidence": json.loads(r["evidence"])} for r in eng.to_arrow(top).to_pylist()]
    if listed:
        cases = latest_cases(eng, [r["person_id"] for r in listed])
    for t in temps:
        eng.drop_temp(t)
    return figures, listed, cases, now


def withdrawn_of(eng: Engine, w: CareWeights) -> ir.Table:
    """Who may not be contacted for care: privacy's table says care contact needs "care"
    (legitimate interest: out once the person objects), plus what [stages.care.privacy] lists;
    an unknown name is an error, not a no-op."""
    purposes = list(dict.fromkeys([*use_purposes("care_contact"),
                                   *(purpose_key(x) for x in w.privacy.exclude_without)]))  # fmt: skip
    if not eng.has("consent_current"):  # consent unknown: fail closed, the run stops, loudly
        raise ConsentError("consent could not be checked (no consent_current view): run "
                           "`empatia run` so the privacy stage creates it; nobody was listed")
    return withdrawn(eng, purposes)
