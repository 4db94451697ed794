"""Train, decide for everyone, decide for one person now.

>>> from empatia.workspace import Workspace
>>> ws = Workspace(db=":memory:")
>>> train(ws.store).persons
0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

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
from empatia.store.engine import BatchFn, DuckDBEngine, Engine, FittedModel
from empatia.store.scoped import StageStore, stage_transaction

#: Blend weights tuned on the retail validation split (benchmarks/results/decide.md).
#: Co-occurrence is EASE item-to-item weights (``CoOccurrence(method="ease")``) at 0.25 since
#: #15: on both retail validation windows (Mar–May, Jun–Aug 2011) it raised NDCG@10 on items
#: new to the person by 3–4% with all items within ±0.4%, then +4.5% new / +0.3% all on the
#: Sep–Nov test window (``benchmarks/recsys_eval.py``); cosine at 0.05 before.
DEFAULT_WEIGHTS = {"buy_again": 1.0, "cooccurrence": 0.25, "als": 0.5, "trending": 0.25,
                   "affinity": 0.1}
N_CANDIDATES = 10
#: People scored at once by :func:`decide_batch` (each recommender gives a people × items
#: matrix: 1,024 × 3,000 items is 25 MB a component).
SCORE_USERS = 1024


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
    # ranked at the precision shown: scores equal to 4 places tie (the lower item first),
    # whatever the float noise of the batch a person was scored in
    total = np.round(total, 4)
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


@dataclass
class Fitted:
    """The hybrid fitted on the buyers' purchases (all of them, or a sample; ``None``: no
    purchase yet) — a handle the model steps load it from — and the cold-start candidates."""

    model: FittedModel | None
    fallback: list[Candidate]
    as_of: datetime
    seq: int
    steps: dict[str, float]
    #: the fit saw every buyer (no sample left anyone out)
    everyone: bool = True
    #: items the model knows
    items: int = 0


def fit(store: Store, *, weights: dict[str, float] | None = None, factors: int = 64,
        now: datetime | None = None, eng: Engine | None = None, sample: int | None = None,
        occ: ir.Table | None = None) -> Fitted:  # fmt: skip
    """Read the purchases and fit the hybrid.

    Fitting needs its interactions at once: the engine aggregates the order lines into
    purchase occasions (person × item × day, :func:`~empatia.decide.signals.fit_occasions`) —
    everyone's, or with ``sample`` those of at most that many buyers — and fits on them
    where they are (:meth:`~empatia.store.engine.Engine.fit`: in process on DuckDB, on an
    executor on Spark); each person's state, scoring (the model rebased on their own
    occasions) and choosing is :func:`decide_batch`, the engine's model step. ``eng``: the
    engine (default: DuckDB in the store); ``occ``: the occasions
    (:func:`~empatia.decide.signals.occasions_expr` at ``now``), made already.
    """
    t0 = time.perf_counter()
    with DuckDBEngine(store) if eng is None else nullcontext(eng) as on:
        latest, seq = signals.clock(on)
        now = now or latest
        rows = signals.fit_occasions(on, now, sample=sample, occ=occ)
        model, summary = on.fit(rows, partial(fit_hybrid, weights, factors, now))
        everyone = sample is None or summary["persons"] < sample or \
            signals.buyers(on, now, occ) <= sample  # fmt: skip
    return Fitted(model, summary["fallback"], now, seq, {"fit": time.perf_counter() - t0},
                  everyone, summary["items"])  # fmt: skip


def fit_hybrid(weights: dict[str, float] | None, factors: int, now: datetime, rows: pa.Table
               ) -> tuple[Hybrid | None, dict[str, Any]]:  # fmt: skip
    """The fit itself (:meth:`~empatia.store.engine.Engine.fit`'s step): the hybrid on the
    occasions ``rows``, and its summary — the people and items it knows, the cold-start
    candidates (what is trending)."""
    buys = signals.occasions_frame(rows)
    if not len(buys):
        return None, {"persons": 0, "items": 0, "fallback": []}
    data = Interactions.from_frame(buys, as_of=pd.Timestamp(now))
    model = make_model(weights, factors).fit(data)
    trending = _rownorm(model.parts["trending"].pop[None, :])[0]
    order = np.argsort(-trending, kind="stable")[:N_CANDIDATES]
    fallback = [Candidate(item=str(data.items[i]), score=round(float(trending[i]), 4),
                          components={"trending": round(float(trending[i]), 4)},
                          name=data.names.get(str(data.items[i])),
                          category=data.category.get(str(data.items[i])), fallback=True)
                for i in order if trending[i] > 0]  # fmt: skip
    return model, {"persons": int(buys["person"].nunique()), "items": data.n_items,
                   "fallback": fallback}  # fmt: skip


def train(store: Store, *, weights: dict[str, float] | None = None, factors: int = 64,
          catalogue: Catalogue | None = None, now: datetime | None = None,
          progress: Callable[[int], None] | None = None, batch: int = 1024) -> Trained:
    """Fit the hybrid on every purchase and precompute each person's candidates and state,
    in this process (the batch run, :func:`run`, scores on the engine instead)."""
    t0 = time.perf_counter()
    catalogue = catalogue or load_catalogue()
    f = fit(store, weights=weights, factors=factors, now=now)
    states = signals.person_states(store, f.as_of, catalogue.policy)
    f.steps["read state"] = time.perf_counter() - t0 - sum(f.steps.values())
    result = Trained(as_of=f.as_of, states=states, seq=f.seq, steps=f.steps)
    cands: dict[str, list[Candidate]] = {}
    if f.model is not None:
        model = f.model.get()
        data = model.data
        result.items = data.n_items
        for users in batches(data.n_persons, batch):
            for u, lst in zip(users, candidates_for(model, users), strict=True):
                cands[str(data.persons[u])] = lst
            if progress:
                progress(len(users))
        f.steps["candidates"] = time.perf_counter() - t0 - sum(f.steps.values())
    for pid in states:
        if pid not in cands:
            cands[pid] = f.fallback
            states[pid]["cold_start"] = True
            result.cold_start += 1
    result.candidates = cands
    result.persons = len(cands)
    result.train_s = time.perf_counter() - t0
    return result


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


_TS = pa.timestamp("us", tz="UTC")
#: The columns of ``decide_inputs`` a person's scoring makes.
INPUTS = pa.schema([("person_id", pa.string()), ("candidates", pa.string()),
                    ("state", pa.string()), ("cold_start", pa.bool_()),
                    ("computed_at", _TS), ("seq", pa.int64())])  # fmt: skip
#: The columns of ``decisions``.
DECISIONS = pa.schema([("person_id", pa.string()), ("action", pa.string()),
                       ("kind", pa.string()), ("channel", pa.string()), ("items", pa.string()),
                       ("reason", pa.string()), ("scores", pa.string()), ("policy", pa.string()),
                       ("fallback", pa.bool_()), ("cost", pa.float64()),
                       ("expires_at", _TS), ("decided_at", _TS)])  # fmt: skip
#: What the model step makes per person: a row of each.
DECIDED = pa.schema([*INPUTS, *(f for f in DECISIONS if f.name != "person_id")])
#: The tables the batch run writes (the stage's ``writes``).
WRITES = ("decide_inputs", "decide_runs", "decisions")


def decided_rows(pids: list[str], cands: list[list[Candidate]], states: list[dict[str, Any]],
                 cold: list[bool], catalogue: Catalogue, as_of: datetime, seq: int,
                 state_json: list[str] | None = None) -> pa.Table:
    """Each person's decision from their candidates and state, as rows of :data:`DECIDED`
    (``state_json``: the states as JSON already)."""
    decisions = [choose(PersonState.from_dict(st), c, catalogue, None, as_of)
                 for st, c in zip(states, cands, strict=True)]  # fmt: skip
    cols = decision_columns(decisions)
    cols.update(person_id=pids, candidates=[orjson.dumps(c).decode() for c in cands],
                state=state_json or [orjson.dumps(st).decode() for st in states], cold_start=cold,
                computed_at=[as_of] * len(pids), seq=[seq] * len(pids))  # fmt: skip
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in DECIDED}, schema=DECIDED)


def decide_batch(fitted: FittedModel | None, everyone: bool, fallback: list[Candidate],
                 catalogue: Catalogue, as_of: datetime, seq: int, batch: pa.RecordBatch
                 ) -> pa.Table:  # fmt: skip
    """The model step of the batch run (:meth:`~empatia.store.engine.Engine.map_batches`):
    the people of ``batch`` (rows of :func:`~empatia.decide.signals.signals_expr`) get their
    state, are scored by the fitted ``model`` — their top candidates, explained — and their
    decisions chosen by the policy. When the fit saw ``everyone`` who bought, each person is
    their row in the model; else the model is rebased on each person's own occasions (their
    purchase ``history``, :meth:`~empatia.decide.recommenders.Hybrid.rebase`). Pure: on Spark it
    runs on the executors, which load the model from where its fit left it (``fitted``)."""
    model: Hybrid | None = fitted.get() if fitted is not None else None
    rows = batch.to_pylist()
    states = signals.states_of(rows, as_of, catalogue.policy)
    pids = [st["person_id"] for st in states]
    if everyone:
        mine = model
        users = model.data.rows_of(pids) if model is not None else np.full(len(pids), -1)
    else:
        mine, users = _rebased(model, pids, [r.get("history") or [] for r in rows], as_of)
    for st, u in zip(states, users, strict=True):
        if u < 0:
            st["cold_start"] = True
    cands: list[list[Candidate]] = [fallback] * len(pids)
    known = np.flatnonzero(users >= 0)
    if mine is not None:
        # scored SCORE_USERS people at a time: each component is a people × items matrix
        for part in batches(len(known), SCORE_USERS):
            at = known[part]
            for r, lst in zip(at, candidates_for(mine, users[at]), strict=True):
                cands[r] = lst
    cold = [bool(u < 0) for u in users]
    return decided_rows(pids, cands, states, cold, catalogue, as_of, seq)


def _rebased(model: Hybrid | None, pids: list[str], histories: list[list[dict[str, Any]]],
             as_of: datetime) -> tuple[Hybrid | None, np.ndarray]:
    """``model`` rebased on these people's occasions, and each one's row in it (-1: no
    purchase of an item the model knows — a cold start)."""
    users = np.full(len(pids), -1, dtype=np.int64)
    occ = [(p, h["item"], h["ts"], h["qty"]) for p, hs in zip(pids, histories, strict=True)
           for h in hs]  # fmt: skip
    if model is None or not occ:
        return None, users
    frame = pd.DataFrame(occ, columns=["person", "item", "ts", "qty"])
    buyers = list(dict.fromkeys(frame["person"]))
    data = Interactions.from_frame(frame, as_of=pd.Timestamp(as_of), items=model.data.items,
                                   persons=buyers)  # fmt: skip
    data.category, data.names = model.data.category, model.data.names
    bought = np.bincount(data.u, minlength=data.n_persons) > 0
    row = {p: u for u, p in enumerate(buyers) if bought[u]}
    users[:] = [row.get(p, -1) for p in pids]
    return model.rebase(data), users


def write_decided(eng: Engine, people: ir.Table, step: BatchFn, *, name: str,
                  where: str | None = None) -> ir.Table:  # fmt: skip
    """Run the model ``step`` over ``people`` into ``decide_inputs`` and ``decisions`` (all
    their rows, or the rows matching ``where``, replaced); returns the decisions' actions."""
    into = {"decide_inputs": INPUTS.names, "decisions": DECISIONS.names}
    return eng.map_into(people, step, DECIDED, into, keep=("action",), where=where, name=name)


def action_counts(eng: Engine, decided: ir.Table) -> dict[str, int]:
    """Decisions per action (the stage's figures), most frequent first."""
    counts = decided.group_by("action").aggregate(n=decided.count())
    rows = eng.to_arrow(counts.order_by([ibis.desc("n"), "action"])).to_pylist()
    return {r["action"]: int(r["n"]) for r in rows}


def export_decisions(eng: Engine, path: Path) -> None:
    """The ``decisions`` table as Parquet or CSV (by ``path``'s suffix), by person."""
    data = eng.to_arrow(eng.table("decisions").order_by("person_id"))
    utc = pa.schema([f.with_type(pa.timestamp(f.type.unit, tz="UTC"))  # Spark's: no zone
                     if pa.types.is_timestamp(f.type) and f.type.tz is None else f
                     for f in data.schema])  # fmt: skip
    frame = data.cast(utc).to_pandas()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def write_inputs(store: Store, trained: Trained) -> int:
    """Keep the candidates and states :func:`train` computed in process (all or nothing)."""
    pids = list(trained.candidates)
    rows = pa.table({
        "person_id": pids,
        "candidates": [orjson.dumps(trained.candidates[p]).decode() for p in pids],
        "state": [orjson.dumps(trained.states.get(p, {"person_id": p})).decode() for p in pids],
        "cold_start": [bool(trained.states.get(p, {}).get("cold_start")) for p in pids],
        "computed_at": [trained.as_of or datetime.now(UTC)] * len(pids),
        "seq": [trained.seq] * len(pids),
    }, schema=INPUTS)  # fmt: skip
    with DuckDBEngine(store) as eng:
        return eng.write(eng.from_arrow(rows, "decide_inputs"), "decide_inputs")


def write_decisions(store: Store, decisions: list[Decision], export: Path | None = None) -> int:
    """Write decisions made in process (:func:`decide_all`; all or nothing), and the export."""
    frame = decisions_frame(decisions)
    rows = pa.Table.from_pandas(frame, schema=DECISIONS, preserve_index=False)
    with DuckDBEngine(store) as eng:
        n = eng.write(eng.from_arrow(rows, "decisions"), "decisions")
    if export is not None:
        export.parent.mkdir(parents=True, exist_ok=True)
        if export.suffix == ".csv":
            frame.to_csv(export, index=False)
        else:
            frame.to_parquet(export, index=False)
    return n


def run(store: Store | StageStore, *, export: Path | None = None,
        catalogue: Catalogue | None = None, progress: Callable[[int], None] | None = None,
        now: datetime | None = None, eng: Engine | None = None,
        fit_people: int | None = None) -> dict[str, Any]:
    """Train, decide for everyone, write ``decide_inputs``, ``decisions``, ``decide_runs`` and
    the export.

    The outputs are written together or not at all: in the stage's transaction when ``store``
    is a stage's view of the store (``eng``: the stage's engine), else in one of their own.
    """
    catalogue = catalogue or load_catalogue()
    if eng is not None:
        return _run(store, eng, catalogue, export, progress, now, fit_people)
    if isinstance(store, StageStore):
        with DuckDBEngine(store) as own:
            return _run(store, own, catalogue, export, progress, now, fit_people)
    with stage_transaction(store, "decide", WRITES) as db, DuckDBEngine(db) as own:
        return _run(db, own, catalogue, export, progress, now, fit_people)


def _run(store: Any, eng: Engine, catalogue: Catalogue, export: Path | None,
         progress: Callable[[int], None] | None, now: datetime | None,
         fit_people: int | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    now = now or signals.clock(eng)[0]
    occ = eng.materialize(signals.occasions_expr(eng, now), "occasions")  # read once
    f = fit(store, now=now, eng=eng, sample=fit_people, occ=occ)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    people = signals.signals_expr(eng, f.as_of, catalogue.policy, history=not f.everyone, occ=occ)
    step = partial(decide_batch, f.model, f.everyone, f.fallback, catalogue, f.as_of, f.seq)
    decided = write_decided(eng, people, step, name="decided")
    n = eng.count(decided)
    kinds = action_counts(eng, decided)
    eng.drop_temp(occ)
    decide_s = time.perf_counter() - t0
    if progress:
        progress(n)
    if export is not None:
        export_decisions(eng, export)
    items = f.items
    inputs = eng.table("decide_inputs")
    cold_start = eng.count(inputs.filter(inputs.cold_start))
    eng.write_arrow(pa.table({  # bookkeeping: when the model was trained
        "trained_at": pa.array([f.as_of], _TS), "persons": [n], "items": [items],
        "train_s": [train_s], "decide_s": [decide_s],
        "weights": [orjson.dumps(DEFAULT_WEIGHTS).decode()],
        "ran_at": pa.array([datetime.now(UTC)], _TS),
    }), "decide_runs", replace=False)  # fmt: skip
    return {"decisions": n, "cold_start": cold_start, "items": items,
            "train_s": round(train_s, 2), "decide_s": round(decide_s, 2), **kinds}


def decision_columns(decisions: list[Decision]) -> dict[str, list[Any]]:
    """The columns of ``decisions`` (:data:`DECISIONS`) of these decisions, as lists."""
    dumps = orjson.dumps
    return {
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
    }


def decisions_frame(decisions: list[Decision]) -> pd.DataFrame:
    return pd.DataFrame(decision_columns(decisions))


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
