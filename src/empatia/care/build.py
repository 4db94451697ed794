"""Building the special-care list and its alerts from the store (the stage's work).

>>> from empatia.store import Store
>>> with Store(":memory:") as s:
...     run_care(s.con)["listed"]
0
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from empatia.care.alerts import create_alerts, latest_cases, resolved_and_quiet
from empatia.care.config import CareWeights, load_weights
from empatia.care.delivery import Sink, deliver_pending
from empatia.care.explain import evidence, explain
from empatia.care.inputs import engine_of, read_inputs, refresh_traits
from empatia.care.scoring import INFLUENCE_SIGNALS, RISK_SIGNALS, score_people
from empatia.privacy.consent import purpose_key, use_purposes
from empatia.store.engine import Engine, union

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
    cc = eng.table("consent_current")
    cc = cc.filter(cc.purpose.isin(purposes) & ~cc.granted)
    return union(latest.select("person_id"), cc.select("person_id"), distinct=True)


def _excluded(eng: Engine, w: CareWeights) -> set[str]:
    """Who may not be contacted for care: privacy's table says care contact needs "care"
    (legitimate interest: out once the person objects), plus what [stages.care.privacy] lists;
    an unknown name is an error, not a no-op."""
    purposes = list(dict.fromkeys([*use_purposes("care_contact"),
                                   *(purpose_key(x) for x in w.privacy.exclude_without)]))  # fmt: skip
    with eng.store_cursor() as cur:  # consent unknown (no privacy table): the run stops, loudly
        cur.execute("select 1 from consent_current limit 0").fetchall()
    return set(eng.to_arrow(withdrawn(eng, purposes)).column("person_id").to_pylist())


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT:
        return None
    if hasattr(v, "item") and not isinstance(v, list | dict | str):
        return v.item()
    return v


def _networks(v: Any) -> dict[str, int]:
    if not isinstance(v, str) or not v.startswith("{"):
        return {}
    try:
        d = json.loads(v)
    except ValueError:
        return {}
    return dict(sorted(((k, int(n)) for k, n in d.items() if isinstance(n, int | float)),
                       key=lambda kv: -kv[1]))  # fmt: skip


def entries(scored: pd.DataFrame, w: CareWeights) -> list[dict[str, Any]]:
    """Rows of the scored frame as list entries with explanation and evidence."""
    out = []
    for rec in scored.to_dict("records"):
        r = {k: _clean(v) for k, v in rec.items()}
        r["networks"] = _networks(r.get("followers_by_network"))
        for flag in ("press", "vip"):
            r[flag] = bool(r.get(flag)) if r.get(flag) is not None else False
        factors = {f"influence.{n}": r.get(f"i_{n}") or 0.0 for n in INFLUENCE_SIGNALS}
        factors |= {f"risk.{n}": r.get(f"r_{n}") or 0.0 for n in RISK_SIGNALS}
        ev = evidence(r, factors)
        seq = r.get("evidence_seq")
        out.append({
            "person_id": r["person_id"], "influence": float(r["influence"]),
            "risk": float(r["risk"]), "value": float(r["value"]), "score": float(r["score"]),
            "explanation": explain(r), "evidence": ev,
            "last_seq": int(seq) if seq is not None else None,
            "threat_seqs": r.get("threat_seqs") or [],
        })  # fmt: skip
    return out


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
    and ``care_traits`` are Ibis expressions there; scoring is a Python step on the driver over
    the inputs of the people with a risk signal in the window (:func:`read_inputs`), which
    ranks them against each other; ``care_list`` and ``care_alerts`` are written back through
    the engine. Delivery (``deliver``) posts to webhooks from ``con``."""
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
    whose resolved case is quiet: the figures, the list's entries, the cases (latest alerts)
    and "now"."""
    refreshed = refresh_traits(eng, full=full)
    inp = read_inputs(eng, w.risk.window_days, now, at_risk_only=True)
    scored = score_people(inp, w)
    figures: dict[str, Any] = {"at_risk": len(scored), **refreshed}
    if len(scored):
        out = _excluded(eng, w)
        figures["excluded_by_consent"] = int(scored["person_id"].isin(out).sum())
        scored = scored[~scored["person_id"].isin(out)]
    keep = scored[scored["score"] >= w.alerts.min_score] if len(scored) else scored
    cases: dict[str, dict[str, Any]] = {}
    if len(keep):
        cases = latest_cases(eng)
        quiet = [resolved_and_quiet(cases.get(p), None if pd.isna(s) else int(s))
                 for p, s in zip(keep["person_id"], keep["evidence_seq"], strict=True)]  # fmt: skip
        figures["resolved_quiet"] = int(sum(quiet))
        keep = keep[[not q for q in quiet]].head(w.alerts.max_list)
    return figures, entries(keep, w), cases, inp.as_of
