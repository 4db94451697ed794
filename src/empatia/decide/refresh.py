"""Between retrainings: re-decide only for the people whose inputs changed.

Training the recommender reads every purchase and every person's state (a minute or more on a
100k-person store), so ``empatia run`` retrains on a schedule or when enough has changed, not
on every run:

- the model was trained more than ``retrain_days`` (default 7) days ago, or
- ``retrain_orders`` (default 2,000) orders arrived since it was trained, or
- more than ``refresh_max`` (default 20,000) people changed, or ``--full``
(``[stages.decide]``, :class:`~empatia.decide.catalogue.DecideSettings`).

Otherwise only the people with new events since the last decision (and those entering or
leaving the special-care list) get a fresh state and a new decision, from the candidates the
model gave them (new people get the cold-start candidates, as training would).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import orjson
import pandas as pd

from empatia.decide import signals
from empatia.decide.catalogue import Catalogue, DecideSettings
from empatia.decide.engine import _now, decisions_frame
from empatia.decide.policy import Candidate, PersonState, choose
from empatia.store import Store

def _one(store: Store, sql: str, args: list[Any] | None = None) -> Any:
    row = store.con.execute(sql, args or []).fetchone()
    return row[0] if row else None


def retrain_reason(store: Store, settings: DecideSettings, *, full: bool = False) -> str | None:
    """Why the model must be trained on this run (``None``: refresh the changed people)."""
    if full:
        return "full"
    age = _one(store, "select now() - max(ran_at) from decide_runs")
    trained_seq = _one(store, "select min(seq) from decide_inputs")
    if age is None or trained_seq is None:
        return "no model yet"
    days = settings.retrain_days
    if age > timedelta(days=days):
        return f"model older than {days:g} days"
    orders = int(_one(store, "select count(*) from events where seq > ? and type = 'track'"
                             " and event = ?", [trained_seq, signals.ORDER_EVENT]) or 0)  # fmt: skip
    limit = settings.retrain_orders
    if orders >= limit:
        return f"{orders} new orders"
    return None


def changed_people(store: Store) -> list[str]:
    """People with events newer than their last decision, or entering/leaving special care."""
    since = int(_one(store, "select coalesce(max(seq), 0) from decide_inputs") or 0)
    parts = ["select person_id from event_persons where seq > ?"]
    if signals._exists(store.con, "care_list"):
        parts.append("select person_id from care_list")
    parts.append("select person_id from decide_inputs"
                 " where json_extract_string(state, '$.special_care') = 'true'")  # fmt: skip
    rows = store.con.execute(" union ".join(parts), [since]).fetchall()
    return sorted(r[0] for r in rows if r[0] is not None)


def refresh(store: Store, people: list[str], catalogue: Catalogue) -> dict[str, Any]:
    """New states and decisions for ``people``; everyone else keeps theirs."""
    t0 = time.perf_counter()
    now = _now(store)
    seq = signals.last_seq(store)
    states = signals.person_states(
        store, now, catalogue.policy, signals.purchases(store, only=people), only=people
    )
    stored = {
        pid: (orjson.loads(c), at)
        for pid, c, at in store.con.execute(
            "select person_id, candidates, computed_at from decide_inputs"
            " where person_id in (select unnest(?::varchar[]))",
            [people],
        ).fetchall()
    }
    row = store.con.execute(
        "select candidates from decide_inputs where cold_start limit 1"
    ).fetchone()
    fallback = orjson.loads(row[0]) if row else []
    inputs, decisions = [], []
    for pid in people:
        state = states.get(pid, {"person_id": pid})
        cands_raw, at = stored.get(pid, (fallback, now))
        cold = pid not in stored or not cands_raw or bool(cands_raw[0].get("fallback"))
        if cold:
            cands_raw = fallback
            state["cold_start"] = True
        cands = [Candidate(**c) for c in cands_raw]
        days = (now - at).total_seconds() / 86400 if at else 0.0
        for c in cands:  # the candidates are as old as the model: age them to now
            if c.last_days is not None and days > 0:
                c.last_days = round(c.last_days + days, 1)
        inputs.append((pid, orjson.dumps(cands).decode(), orjson.dumps(state).decode(), cold))
        decisions.append(choose(PersonState.from_dict(state), cands, catalogue, None, now))
    frame = pd.DataFrame({
        "person_id": [r[0] for r in inputs], "candidates": [r[1] for r in inputs],
        "state": [r[2] for r in inputs], "cold_start": [r[3] for r in inputs],
        "computed_at": now, "seq": seq,
    })  # fmt: skip
    dec = decisions_frame(decisions)
    with store.write() as cur:  # all or nothing: an error leaves the previous decisions
        cur.register("_refresh_inputs", frame)
        cur.register("_refresh_decisions", dec)
        # people merged into someone else since the last run have no decision any more
        for table in ("decide_inputs", "decisions"):
            cur.execute(f"delete from {table} where person_id in"  # no one: not DOUBLE
                        " (select person_id::varchar from _refresh_inputs) or person_id not in"
                        " (select person_id from event_persons)")  # fmt: skip
        cur.execute("insert into decide_inputs select * from _refresh_inputs")
        cur.execute("insert into decisions by name select * from _refresh_decisions")
    kinds: dict[str, int] = {}
    for d in decisions:
        kinds[d.action] = kinds.get(d.action, 0) + 1
    return {"retrained": "no", "decisions": len(decisions),
            "decide_s": round(time.perf_counter() - t0, 2), **kinds}  # fmt: skip
