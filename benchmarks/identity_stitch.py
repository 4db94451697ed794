"""Stitching 1,000,000 identity edges on DuckDB (goal: ≤ 10 s on 2 cores).

Builds ``identity_event_ids`` for 1,000,000 events that each carry two identifiers of one of
200,000 synthetic people (user id, email, phone, device, three anonymous ids) — one edge per
event — plus a few placeholder phones shared by hundreds of people for the over-merge guard.
Then times the identity stage without extraction: guard, node numbering, edges, connected
components, stable person ids, and writing ``identities`` and ``event_persons``.

    .venv/bin/python benchmarks/identity_stitch.py [--edges 1000000]
"""

from __future__ import annotations

import argparse
import time

import ibis
import numpy as np
import pyarrow as pa

from empatia.identity.components import components
from empatia.identity.config import IdentityConfig
from empatia.identity.resolve import resolve, write_state
from empatia.store import Store
from empatia.store.engine import connect

KINDS = np.array(["user_id", "email", "phone", "device_id", "anonymous_id", "anonymous_id",
                  "anonymous_id"])  # fmt: skip


def synthetic(n_edges: int, n_people: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    person = rng.integers(0, n_people, n_edges)
    slot_a = rng.integers(0, len(KINDS), n_edges)
    slot_b = (slot_a + rng.integers(1, len(KINDS), n_edges)) % len(KINDS)
    seq = np.arange(1, n_edges + 1)

    def value(slot: np.ndarray) -> np.ndarray:
        v = np.char.add(np.char.add(person.astype(str), "_"), slot.astype(str))
        return v

    kinds = np.concatenate([KINDS[slot_a], KINDS[slot_b]])
    values = np.concatenate([value(slot_a), value(slot_b)])
    # placeholder phones: 50 numbers each typed for ~400 different people
    hot = rng.random(n_edges) < 0.02
    phones = np.char.add("+480000000", (rng.integers(0, 50, n_edges)).astype(str))
    kinds[:n_edges][hot] = "phone"
    values[:n_edges][hot] = phones[hot]
    return pa.table({"seq": np.concatenate([seq, seq]), "kind": kinds, "value": values})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=200_000)
    args = parser.parse_args()
    data = synthetic(args.edges, args.people)
    with Store(":memory:") as store:
        eng = connect(store)
        eng.write_arrow(data, "identity_event_ids", replace=True)
        store.con.execute(f"insert into events (seq, message_key, message_id, type, \"timestamp\", "
                          f"received_at, source, raw) select i, i, i::varchar, 'track', now(), now(),"
                          f" 'bench', '{{}}' from range(1, {args.edges + 1}) t(i)")  # fmt: skip
        write_state(eng, last_seq=args.edges)  # identifiers are already extracted
        t0, c0 = time.perf_counter(), time.process_time()
        figures = resolve(eng, IdentityConfig(probabilistic=False))
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        t1 = time.perf_counter()
        raw = eng.table("identity_event_ids")
        distinct = raw.select("kind", "value").distinct()
        nodes = distinct.mutate(node=ibis.row_number().over(order_by=["kind", "value"]))
        k = raw.join(nodes, ["kind", "value"]).select("seq", "node")
        k2 = k.view()
        pairs = k.join(k2, [k.seq == k2.seq, k.node < k2.node]).select(a=k.node, b=k2.node)
        ids = eng.materialize(pairs, "bench_edges")
        prep = time.perf_counter() - t1
        t2, c2 = time.perf_counter(), time.process_time()
        labels = components(eng, ids)
        n_comp = labels.label.nunique().to_pyarrow().as_py()
        cc, cc_cpu = time.perf_counter() - t2, time.process_time() - c2
        eng.close()
    print(f"edges: {args.edges:,}  identifiers: {figures['identities']:,}  "
          f"persons: {figures['persons']:,}  blocked: {figures['blocked']}")  # fmt: skip
    print(
        f"identity stage without extraction (guard, edges, components, ids, writes): {total:.2f} s"
        f" wall, {cpu:.2f} CPU-seconds (all threads; / 2 cores = {cpu / 2:.2f} s if idle)"
    )
    print(
        f"connected components alone: {cc:.2f} s wall, {cc_cpu:.2f} CPU-seconds"
        f" ({n_comp:,} components; edge prep {prep:.2f} s)"
    )


if __name__ == "__main__":
    main()
