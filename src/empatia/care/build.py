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
from typing import Any

import duckdb
import pandas as pd

from empatia.care.alerts import create_alerts, latest_cases, resolved_and_quiet
from empatia.care.config import CareWeights, load_weights
from empatia.care.delivery import Sink, deliver_pending
from empatia.care.explain import evidence, explain
from empatia.care.inputs import read_inputs, refresh_traits
from empatia.privacy.consent import purpose_key, use_purposes
from empatia.care.scoring import INFLUENCE_SIGNALS, RISK_SIGNALS, score_people

_CONSENT = """
select p.person_id
from (select seq, json_extract_string(raw, '$.properties.purpose') as purpose,
             try_cast(json_extract_string(raw, '$.properties.granted') as boolean) as granted
      from events where type = 'track' and event = 'Consent Updated') c
join event_persons p using (seq)
where purpose in (select unnest(?::varchar[]))
group by p.person_id, purpose
having not arg_max(granted, seq)
"""


_CONSENT_CURRENT = """
select distinct person_id from consent_current
where purpose in (select unnest(?::varchar[])) and not granted
"""


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
    con: duckdb.DuckDBPyConnection,
    weights: CareWeights | None = None,
    *,
    deliver: bool = True,
    sinks: dict[str, Sink] | None = None,
    sleep: Callable[[float], None] | None = None,
    now: datetime | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Score everyone at risk, rewrite ``care_list``, create alerts, deliver them.

    The list is a ranking of everyone with signals in the recent window, so it is scored
    whole every time; the influence traits read from the whole event log are kept per person
    and refreshed only for the people whose events changed (``full``: for everyone)."""
    w = weights or load_weights()
    refreshed = refresh_traits(con, full=full)
    inp = read_inputs(con, w.risk.window_days, now)
    scored = score_people(inp, w)
    figures: dict[str, Any] = {"at_risk": len(scored), **refreshed}
    if len(scored):
        # privacy's table: care contact needs "care" (legitimate interest: out once the person
        # objects), plus what [stages.care.privacy] lists; an unknown name is an error, not a no-op
        purposes = list(
            dict.fromkeys(
                [
                    *use_purposes("care_contact"),
                    *(purpose_key(x) for x in w.privacy.exclude_without),
                ]
            )
        )
        out = {r[0] for r in con.execute(_CONSENT, [purposes]).fetchall()}
        out |= {r[0] for r in con.execute(_CONSENT_CURRENT, [purposes]).fetchall()}
        figures["excluded_by_consent"] = int(scored["person_id"].isin(out).sum())
        scored = scored[~scored["person_id"].isin(out)]
    cases = latest_cases(con)
    keep = scored[scored["score"] >= w.alerts.min_score] if len(scored) else scored
    if len(keep):
        quiet = [resolved_and_quiet(cases.get(p), None if pd.isna(s) else int(s))
                 for p, s in zip(keep["person_id"], keep["evidence_seq"], strict=True)]  # fmt: skip
        figures["resolved_quiet"] = int(sum(quiet))
        keep = keep[[not q for q in quiet]].head(w.alerts.max_list)
    listed = entries(keep, w)
    created = create_alerts(con, listed, cases, w)
    computed_at = inp.as_of
    con.execute("begin transaction")
    try:
        con.execute("delete from care_list")
        if listed:
            con.executemany(
                "insert into care_list (rank, person_id, influence, risk, value, score, explanation,"
                " evidence, status, alert_id, last_seq, computed_at) values (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(i + 1, e["person_id"], e["influence"], e["risk"], e["value"], e["score"],
                  e["explanation"], json.dumps(e["evidence"], default=str), e.get("status", "new"),
                  e.get("alert_id"), e["last_seq"], computed_at) for i, e in enumerate(listed)],
            )  # fmt: skip
        con.execute("commit")
    except duckdb.Error:
        con.execute("rollback")
        raise
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
