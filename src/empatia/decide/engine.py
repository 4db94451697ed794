"""Train, decide for everyone, decide for one person now.

>>> from empatia.workspace import Workspace
>>> ws = Workspace(db=":memory:")
>>> train(ws.store).persons
0
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from empatia.decide import signals
from empatia.decide.catalogue import Catalogue, load_catalogue
from empatia.decide.policy import Candidate, Decision, LiveContext, PersonState, choose
from empatia.decide.recommenders import (
    ALS,
    BuyAgain,
    CoOccurrence,
    Hybrid,
    Interactions,
    Popularity,
    _rownorm,
    batches,
    topk_rows,
)
from empatia.store import Store

#: Blend weights tuned on the retail validation split (benchmarks/results/decide.md).
DEFAULT_WEIGHTS = {"buy_again": 1.0, "cooccurrence": 0.1, "als": 0.25, "trending": 0.25}
N_CANDIDATES = 10


@dataclass
class Trained:
    persons: int = 0
    items: int = 0
    cold_start: int = 0
    train_s: float = 0.0
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    as_of: datetime | None = None
    seq: int = 0  # the newest event seen by training


def _now(store: Store) -> datetime:
    """'Now' for a batch: the latest event (so a replayed or demo world decides at its end)."""
    row = store.con.execute('select max("timestamp") from events').fetchone()
    return row[0] if row and row[0] else datetime.now(UTC)


def make_model(weights: dict[str, float] | None = None, factors: int = 64) -> Hybrid:
    return Hybrid(
        weights or DEFAULT_WEIGHTS,
        buy_again=BuyAgain(tau=240.0),
        cooccurrence=CoOccurrence(tau=90.0),
        als=ALS(factors=factors, regularization=0.1),
        trending=Popularity(window_days=30.0),
    )


def candidates_for(model: Hybrid, users: np.ndarray, k: int = N_CANDIDATES) -> list[list[Candidate]]:
    """Top ``k`` candidates of ``users`` with their component scores and explanation inputs."""
    data = model.data
    comps = model.components(users)
    total = sum(model.weights[n] * b for n, b in comps.items())
    assert isinstance(total, np.ndarray)
    top = topk_rows(total, k)
    rows = np.repeat(np.arange(len(users)), top.shape[1])
    cols = top.ravel()
    u_rows = users[rows]
    ba: BuyAgain = model.parts["buy_again"]
    count = np.asarray(ba.count[u_rows, cols]).ravel()
    last = np.asarray(ba.last[u_rows, cols]).ravel()
    interval = np.asarray(ba.interval[u_rows, cols]).ravel()
    because = np.full((len(users), top.shape[1]), -1)
    co: CoOccurrence = model.parts["cooccurrence"]
    if hasattr(co, "sim"):
        hist = co.history[users].toarray()
        sim_cols = co.sim.T.tocsr()[cols].toarray().reshape(len(users), top.shape[1], -1)
        contrib = sim_cols * hist[:, None, :]
        best = contrib.argmax(axis=2)
        ok = np.take_along_axis(contrib, best[:, :, None], axis=2)[:, :, 0] > 0
        because = np.where(ok, best, -1)
    out: list[list[Candidate]] = []
    names, cats = data.names, data.category
    comp_vals = {n: b[rows, cols] for n, b in comps.items()}
    tot = total[rows, cols]
    for r in range(len(users)):
        lst = []
        for j in range(top.shape[1]):
            f = r * top.shape[1] + j
            if tot[f] <= 0:
                break
            item = str(data.items[cols[f]])
            n = int(count[f])
            b = because[r, j]
            lst.append(Candidate(
                item=item, score=round(float(tot[f]), 4),
                components={c: round(float(v[f]), 4) for c, v in comp_vals.items() if v[f] > 0},
                name=names.get(item), category=cats.get(item), count=n,
                last_days=round(float(last[f]), 1) if n else None,
                interval_days=round(float(interval[f]), 1) if n > 1 and np.isfinite(interval[f]) else None,
                because=[names.get(str(data.items[b]), str(data.items[b]))] if b >= 0 else [],
            ))
        out.append(lst)
    return out


def train(store: Store, *, weights: dict[str, float] | None = None, factors: int = 64,
          catalogue: Catalogue | None = None, now: datetime | None = None,
          progress: Callable[[int], None] | None = None, batch: int = 1024) -> Trained:
    """Fit the hybrid on every purchase and precompute each person's candidates and state."""
    t0 = time.perf_counter()
    catalogue = catalogue or load_catalogue()
    now = now or _now(store)
    seq = signals.last_seq(store)
    buys = signals.purchases(store)
    states = signals.person_states(store, now, catalogue.policy, buys)
    result = Trained(as_of=now, states=states, seq=seq)
    cands: dict[str, list[Candidate]] = {}
    if len(buys):
        data = Interactions.from_frame(buys, as_of=pd.Timestamp(now))
        model = make_model(weights, factors).fit(data)
        result.items = data.n_items
        for users in batches(data.n_persons, batch):
            for u, lst in zip(users, candidates_for(model, users), strict=True):
                cands[str(data.persons[u])] = lst
            if progress:
                progress(len(users))
        trending = _rownorm(model.parts["trending"].pop[None, :])[0]
        order = np.argsort(-trending, kind="stable")[:N_CANDIDATES]
        fallback = [Candidate(item=str(data.items[i]), score=round(float(trending[i]), 4),
                              components={"trending": round(float(trending[i]), 4)},
                              name=data.names.get(str(data.items[i])),
                              category=data.category.get(str(data.items[i])), fallback=True)
                    for i in order if trending[i] > 0]
    else:
        fallback = []
    for pid in states:
        if pid not in cands:
            cands[pid] = fallback
            states[pid]["cold_start"] = True
            result.cold_start += 1
    result.candidates = cands
    result.persons = len(cands)
    result.train_s = time.perf_counter() - t0
    return result


def write_inputs(store: Store, trained: Trained) -> int:
    """Keep each person's candidates and state for the real-time path."""
    now = trained.as_of or datetime.now(UTC)
    pids = list(trained.candidates)
    frame = pd.DataFrame({
        "person_id": pids,
        "candidates": [orjson.dumps([asdict(c) for c in trained.candidates[p]]).decode() for p in pids],
        "state": [orjson.dumps(trained.states.get(p, {"person_id": p})).decode() for p in pids],
        "cold_start": [bool(trained.states.get(p, {}).get("cold_start")) for p in pids],
        "computed_at": now,
        "seq": trained.seq,
    })
    with store._lock:
        store.con.execute("begin")
        store.con.execute("delete from decide_inputs")
        store.con.register("_decide_inputs", frame)
        store.con.execute("insert into decide_inputs select * from _decide_inputs")
        store.con.unregister("_decide_inputs")
        store.con.execute("commit")
    return len(frame)


def decide_all(trained: Trained, catalogue: Catalogue | None = None,
               progress: Callable[[int], None] | None = None) -> list[Decision]:
    """One decision per person from precomputed candidates and state."""
    catalogue = catalogue or load_catalogue()
    out = []
    for n, (pid, cands) in enumerate(trained.candidates.items(), 1):
        state = PersonState.from_dict(trained.states.get(pid, {"person_id": pid}))
        out.append(choose(state, cands, catalogue, None, trained.as_of))
        if progress and n % 1000 == 0:
            progress(1000)
    return out


def write_decisions(store: Store, decisions: list[Decision], export: Path | None = None) -> int:
    frame = decisions_frame(decisions)
    with store._lock:
        store.con.execute("begin")
        store.con.execute("delete from decisions")
        store.con.register("_decisions", frame)
        store.con.execute("insert into decisions by name select * from _decisions")
        store.con.unregister("_decisions")
        store.con.execute("commit")
    if export is not None:
        export.parent.mkdir(parents=True, exist_ok=True)
        if export.suffix == ".csv":
            frame.to_csv(export, index=False)
        else:
            frame.to_parquet(export, index=False)
    return len(frame)


def decisions_frame(decisions: list[Decision]) -> pd.DataFrame:
    dumps = orjson.dumps
    return pd.DataFrame({
        "person_id": [d.person_id for d in decisions],
        "action": [d.action for d in decisions],
        "kind": [d.kind for d in decisions],
        "channel": [d.channel for d in decisions],
        "items": [dumps(d.items).decode() for d in decisions],
        "reason": [d.reason for d in decisions],
        "scores": [dumps(d.scores).decode() for d in decisions],
        "policy": [dumps(d.policy).decode() for d in decisions],
        "fallback": [d.fallback for d in decisions],
        "cost": [d.cost for d in decisions],
        "expires_at": [d.expires_at for d in decisions],
        "decided_at": [d.decided_at for d in decisions],
    })


def run(store: Store, *, export: Path | None = None, catalogue: Catalogue | None = None,
        progress: Callable[[int], None] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Train, decide for everyone, write ``decide_inputs``, ``decisions`` and the export."""
    catalogue = catalogue or load_catalogue()
    trained = train(store, catalogue=catalogue, now=now)
    t0 = time.perf_counter()
    decisions = decide_all(trained, catalogue, progress)
    decide_s = time.perf_counter() - t0
    write_inputs(store, trained)
    n = write_decisions(store, decisions, export)
    store.con.execute("insert into decide_runs values (?, ?, ?, ?, ?, ?)",
                      [trained.as_of, trained.persons, trained.items, trained.train_s, decide_s,
                       orjson.dumps(DEFAULT_WEIGHTS).decode()])
    kinds: dict[str, int] = {}
    for d in decisions:
        kinds[d.action] = kinds.get(d.action, 0) + 1
    return {"decisions": n, "cold_start": trained.cold_start, "items": trained.items,
            "train_s": round(trained.train_s, 2), "decide_s": round(decide_s, 2), **kinds}


def decide_one(store: Store, person_id: str, live: LiveContext | None = None,
               catalogue: Catalogue | None = None, *, record: bool = True,
               now: datetime | None = None) -> Decision:
    """The best action for one person now: precomputed candidates + current consent + live
    context (see :class:`~empatia.decide.realtime.RealTime`, which servers keep open)."""
    from empatia.decide.realtime import RealTime

    rt = RealTime(store, catalogue, background=False)
    return rt.decide(person_id, live, record=record, now=now)


def log_decision(store: Store, d: Decision, *, delivered: bool, source: str) -> None:
    cur = store.cursor()
    try:
        cur.execute("insert into decision_log values (?, ?, ?, ?, ?, ?, ?)",
                    [d.person_id, d.action, d.channel, source, delivered, d.decided_at,
                     orjson.dumps(d.as_dict()).decode()])
    finally:
        cur.close()
