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
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson
import pyarrow as pa

from empatia.decide import signals
from empatia.decide.catalogue import Catalogue, DecideSettings
from empatia.decide.engine import WRITES, action_counts, decided_rows, write_decided
from empatia.decide.policy import Candidate
from empatia.store import Store
from empatia.store.engine import DuckDBEngine, Engine, union
from empatia.store.scoped import StageStore, stage_transaction

def retrain_reason(eng: Engine, settings: DecideSettings, *, full: bool = False) -> str | None:
    """Why the model must be trained on this run (``None``: refresh the changed people)."""
    if full:
        return "full"
    runs, inputs = eng.table("decide_runs"), eng.table("decide_inputs")
    ran = eng.to_arrow(runs.aggregate(at=runs.ran_at.max())).column("at")[0].as_py()
    trained_seq = eng.to_arrow(inputs.aggregate(s=inputs.seq.min())).column("s")[0].as_py()
    if ran is None or trained_seq is None:
        return "no model yet"
    days = settings.retrain_days
    if datetime.now(UTC) - (ran if ran.tzinfo else ran.replace(tzinfo=UTC)) > timedelta(days=days):
        return f"model older than {days:g} days"
    ev = eng.table("events")
    orders = eng.count(ev.filter((ev.seq > trained_seq) & (ev.type == "track")
                                 & (ev.event == signals.ORDER_EVENT)))  # fmt: skip
    limit = settings.retrain_orders
    if orders >= limit:
        return f"{orders} new orders"
    return None


def changed_people(eng: Engine) -> list[str]:
    """People with events newer than their last decision, or entering/leaving special care."""
    inputs = eng.table("decide_inputs")
    since = eng.to_arrow(inputs.aggregate(s=inputs.seq.max())).column("s")[0].as_py() or 0
    ep = eng.table("event_persons")
    cared = eng.json_str(inputs.state.cast("string"), "$.special_care") == "true"
    parts = [ep.filter(ep.seq > since).select("person_id"),
             inputs.filter(cared).select("person_id")]  # fmt: skip
    if eng.has("care_list"):
        parts.append(eng.table("care_list").select("person_id"))
    people = eng.to_arrow(union(*parts, distinct=True)).column("person_id").to_pylist()
    return sorted(p for p in people if p is not None)


def refresh(store: Store | StageStore, people: list[str], catalogue: Catalogue,
            eng: Engine | None = None) -> dict[str, Any]:
    """New states and decisions for ``people``; everyone else keeps theirs.

    Written together or not at all: in the stage's transaction (``eng``: the stage's engine),
    else in one of their own.
    """
    if eng is not None:
        return _refresh(store, eng, people, catalogue)
    if isinstance(store, StageStore):
        with DuckDBEngine(store) as own:
            return _refresh(store, own, people, catalogue)
    with stage_transaction(store, "decide", WRITES) as db, DuckDBEngine(db) as own:
        return _refresh(db, own, people, catalogue)


def _refresh(store: Any, eng: Engine, people: list[str], catalogue: Catalogue) -> dict[str, Any]:
    t0 = time.perf_counter()
    now, seq = signals.clock(eng)
    inputs = eng.table("decide_inputs")
    fallback = eng.to_arrow(  # the cold-start candidates training gave
        inputs.filter(inputs.cold_start).select(c=inputs.candidates.cast("string")).limit(1)
    ).column("c").to_pylist()
    mine = signals.state_rows(eng, now, catalogue.policy, only=people)
    stored = inputs.select("person_id", stored=inputs.candidates.cast("string"),
                           stored_at=inputs.computed_at)  # fmt: skip
    joined = mine.left_join(stored, "person_id").select(mine.person_id, mine.state, "stored",
                                                        "stored_at")  # fmt: skip
    step = partial(refresh_batch, fallback[0] if fallback else "[]", catalogue, now, seq)
    # people merged into someone else since the last run have no decision any more
    where = f"{signals._in(people)} or person_id not in (select person_id from event_persons)"
    decided = write_decided(eng, joined, step, name="refreshed", where=where)
    n = eng.count(decided)
    return {"retrained": "no", "decisions": n,
            "decide_s": round(time.perf_counter() - t0, 2), **action_counts(eng, decided)}  # fmt: skip


def refresh_batch(fallback: str, catalogue: Catalogue, now: datetime, seq: int,
                  batch: pa.RecordBatch) -> pa.Table:
    """The model step of a refresh: each person's stored candidates (aged to ``now``; the
    cold-start ones for someone new) and fresh state, and a decision from them."""
    pids, cands, states, cold = [], [], [], []
    for row in batch.to_pylist():
        pid, state = str(row["person_id"]), orjson.loads(row["state"])
        cands_raw = orjson.loads(row["stored"]) if row["stored"] is not None else None
        at = row["stored_at"] if row["stored"] is not None else now
        is_cold = cands_raw is None or not cands_raw or bool(cands_raw[0].get("fallback"))
        if is_cold:
            cands_raw = orjson.loads(fallback)
            state["cold_start"] = True
        lst = [Candidate(**c) for c in cands_raw or []]
        days = (now - at).total_seconds() / 86400 if at else 0.0
        for c in lst:  # the candidates are as old as the model: age them to now
            if c.last_days is not None and days > 0:
                c.last_days = round(c.last_days + days, 1)
        pids.append(pid)
        cands.append(lst)
        states.append(state)
        cold.append(is_cold)
    return decided_rows(pids, cands, states, cold, catalogue, now, seq)
