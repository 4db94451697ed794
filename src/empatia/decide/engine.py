"""Train, decide for everyone, decide for one person now.

>>> from empatia.workspace import Workspace
>>> ws = Workspace(db=":memory:")
>>> train(ws.store).persons
0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    CategoryAffinity,
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
#: Co-occurrence is EASE item-to-item weights (``CoOccurrence(method="ease")``) at 0.25 since
#: #15: on both retail validation windows (Mar–May, Jun–Aug 2011) it raised NDCG@10 on items
#: new to the person by 3–4% with all items within ±0.4%, then +4.5% new / +0.3% all on the
#: Sep–Nov test window (``benchmarks/recsys_eval.py``); cosine at 0.05 before.
DEFAULT_WEIGHTS = {"buy_again": 1.0, "cooccurrence": 0.25, "als": 0.5, "trending": 0.25,
                   "affinity": 0.1}
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
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step


def _now(store: Store) -> datetime:
    """'Now' for a batch: the latest event (so a replayed or demo world decides at its end)."""
    row = store.con.execute('select max("timestamp") from events').fetchone()
    return row[0] if row and row[0] else datetime.now(UTC)


def make_model(weights: dict[str, float] | None = None, factors: int = 64) -> Hybrid:
    return Hybrid(
        weights or DEFAULT_WEIGHTS,
        buy_again=BuyAgain(tau=240.0),
        cooccurrence=CoOccurrence(tau=90.0, method="ease"),
        als=ALS(factors=factors, regularization=0.1),
        trending=Popularity(window_days=30.0),
        affinity=CategoryAffinity(),
    )


def _because(model: Hybrid, users: np.ndarray, top: np.ndarray, max_history: int = 20
             ) -> np.ndarray:
    """For each candidate, the person's own item most similar to it (-1: none), for the
    reason text: "people who buy X also buy it"."""
    co: CoOccurrence = model.parts["cooccurrence"]
    out = np.full(top.shape, -1)
    if not hasattr(co, "sim"):
        return out
    if not hasattr(co, "_dense"):  # items × items; small catalogues only
        co._dense = co.sim.toarray() if co.sim.shape[0] <= 6000 else None  # type: ignore[attr-defined]
    dense = co._dense  # type: ignore[attr-defined]
    if dense is None:
        return out
    hist = co.history[users]
    h_idx = np.full((len(users), max_history), 0)
    h_ok = np.zeros((len(users), max_history), dtype=bool)
    for r in range(len(users)):
        lo, hi = hist.indptr[r], hist.indptr[r + 1]
        idx = hist.indices[lo:hi]
        if hi - lo > max_history:
            idx = idx[np.argsort(-hist.data[lo:hi])[:max_history]]
        h_idx[r, : len(idx)] = idx
        h_ok[r, : len(idx)] = True
    vals = dense[h_idx[:, :, None], top[:, None, :]] * h_ok[:, :, None]  # users × history × k
    best = vals.argmax(axis=1)
    ok = np.take_along_axis(vals, best[:, None, :], axis=1)[:, 0, :] > 0
    return np.where(ok, np.take_along_axis(h_idx, best, axis=1), -1)


def candidates_for(model: Hybrid, users: np.ndarray, k: int = N_CANDIDATES) -> list[list[Candidate]]:
    """Top ``k`` candidates of ``users`` with their component scores and explanation inputs."""
    data = model.data
    comps = model.components(users)
    total = sum(model.weights[n] * b for n, b in comps.items())
    assert isinstance(total, np.ndarray)
    top = topk_rows(total, k)
    kk = top.shape[1]
    rows = np.repeat(np.arange(len(users)), kk)
    cols = top.ravel()
    u_rows = users[rows]
    ba: BuyAgain = model.parts["buy_again"]
    count = np.asarray(ba.count[u_rows, cols]).ravel().astype(int).tolist()
    last = np.round(np.asarray(ba.last[u_rows, cols]).ravel(), 1).tolist()
    interval = np.asarray(ba.interval[u_rows, cols]).ravel()
    interval = np.round(np.where(np.isfinite(interval), interval, -1), 1).tolist()
    because = _because(model, users, top).ravel().tolist()
    item_ids = [str(x) for x in data.items]
    names, cats = data.names, data.category
    names_l = [names.get(x) for x in item_ids]
    cats_l = [cats.get(x) for x in item_ids]
    comp_names = list(comps)
    comp_vals = np.round(np.stack([comps[n][rows, cols] for n in comp_names], axis=1), 4).tolist()
    tot = np.round(total[rows, cols], 4).tolist()
    cols_l = cols.tolist()
    out: list[list[Candidate]] = []
    for r in range(len(users)):
        lst = []
        for f in range(r * kk, (r + 1) * kk):
            if tot[f] <= 0:
                break
            i = cols_l[f]
            n = count[f]
            b = because[f]
            lst.append(Candidate(
                item_ids[i], tot[f],
                {c: v for c, v in zip(comp_names, comp_vals[f], strict=True) if v > 0},
                names_l[i], cats_l[i], n, last[f] if n else None,
                interval[f] if n > 1 and interval[f] >= 0 else None,
                [names_l[b] or item_ids[b]] if b >= 0 else [],
            ))  # fmt: skip
        out.append(lst)
    return out


def train(store: Store, *, weights: dict[str, float] | None = None, factors: int = 64,
          catalogue: Catalogue | None = None, now: datetime | None = None,
          progress: Callable[[int], None] | None = None, batch: int = 1024) -> Trained:
    """Fit the hybrid on every purchase and precompute each person's candidates and state."""
    t0 = time.perf_counter()
    catalogue = catalogue or load_catalogue()
    now = now or _now(store)
    steps: dict[str, float] = {}
    seq = signals.last_seq(store)
    buys = signals.purchases(store)
    steps["read purchases"] = time.perf_counter() - t0
    states = signals.person_states(store, now, catalogue.policy, buys)
    steps["read state"] = time.perf_counter() - t0 - sum(steps.values())
    result = Trained(as_of=now, states=states, seq=seq, steps=steps)
    cands: dict[str, list[Candidate]] = {}
    if len(buys):
        data = Interactions.from_frame(buys, as_of=pd.Timestamp(now))
        model = make_model(weights, factors).fit(data)
        steps["fit"] = time.perf_counter() - t0 - sum(steps.values())
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
        steps["candidates"] = time.perf_counter() - t0 - sum(steps.values())
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
        "candidates": [orjson.dumps(trained.candidates[p]).decode() for p in pids],
        "state": [orjson.dumps(trained.states.get(p, {"person_id": p})).decode() for p in pids],
        "cold_start": [bool(trained.states.get(p, {}).get("cold_start")) for p in pids],
        "computed_at": now,
        "seq": trained.seq,
    })
    with store.write() as cur:  # all or nothing: an error leaves the previous inputs
        cur.execute("delete from decide_inputs")
        cur.register("_decide_inputs", frame)
        cur.execute("insert into decide_inputs select * from _decide_inputs")
        cur.unregister("_decide_inputs")
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
    with store.write() as cur:  # all or nothing: an error leaves the previous decisions
        cur.execute("delete from decisions")
        cur.register("_decisions", frame)
        cur.execute("insert into decisions by name select * from _decisions")
        cur.unregister("_decisions")
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
    with store.write() as cur:
        cur.execute("insert into decide_runs (trained_at, persons, items, train_s, decide_s,"
                    " weights, ran_at) values (?, ?, ?, ?, ?, ?, now())",
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
    try:
        return rt.decide(person_id, live, record=record, now=now)
    finally:
        rt.close()


def log_decision(store: Store, d: Decision, *, delivered: bool, source: str) -> None:
    with store.write() as cur:
        cur.execute("insert into decision_log values (?, ?, ?, ?, ?, ?, ?)",
                    [d.person_id, d.action, d.channel, source, delivered, d.decided_at,
                     orjson.dumps(d.as_dict()).decode()])
