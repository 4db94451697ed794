"""Several ingest nodes, one lake, under `kill -9`: every acknowledged event reaches the
primary's log and the lake's event log once.

    python benchmarks/ingest_nodes.py --nodes 3 --clients 8 --kills 4

A lake (``[store] kind = "lake"``) and ``--nodes`` + 1 stores, each made with ``empatia
init`` as a user makes them: the first to open the lake owns its event log (the primary), the
others are ingest nodes. Each runs ``empatia serve``; ``--clients`` processes send single
events and batches to them in turn, all with the primary's write key (as behind a load
balancer) (the clients of :mod:`ingest_kill9`: a request without an
answer is sent again, unchanged, until it gets its 200). Random servers, the primary among
them, are killed with SIGKILL (``--min``..``--max`` seconds apart) and restarted. Then the
clients stop, every node is stopped as a user stops it (Ctrl-C: it sends what it still holds),
then the primary (it gathers them), and the primary's store and the lake's ``events`` table
are compared with the message ids that got a 200: missing must be 0, duplicates 0, and no
inbox file may be left.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from benchmarks.ingest_kill9 import Server, client, init_store  # noqa: E402

from empatia.workspace import Workspace  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=3, help="ingest nodes beside the primary")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--kills", type=int, default=4)
    ap.add_argument("--min", type=float, default=4.0, help="seconds between kills, at least")
    ap.add_argument("--max", type=float, default=12.0, help="seconds between kills, at most")
    ap.add_argument("--batch", type=int, default=200, help="events per batch, at most")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    d = Path(tempfile.mkdtemp(prefix="empatia-nodes-"))
    lake = d / "lake"
    os.environ.update(EMPATIA_STORE__KIND="lake", EMPATIA_STORE__URI=str(lake))  # every store
    dbs = [d / "primary.duckdb", *(d / f"node{i}.duckdb" for i in range(1, args.nodes + 1))]
    keys = [init_store(db) for db in dbs]  # the primary first: it opens the lake first
    keys = [keys[0]] * len(dbs)  # one write key, the primary's, for every node
    servers = [Server(db).start() for db in dbs]
    ctx = mp.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=client, args=(w, servers[w % len(dbs)].url, keys[w % len(dbs)],
                                              args.batch * (w % 2), stop, out))
             for w in range(args.clients)]  # fmt: skip
    for p in procs:
        p.start()
    kills: list[dict[str, float | int]] = []
    t_start = time.perf_counter()
    try:
        for k in range(args.kills):
            time.sleep(rnd.uniform(args.min, args.max))
            n = rnd.randrange(len(dbs))  # an ingest node, or the primary while it gathers
            servers[n].kill9()
            t0 = time.perf_counter()
            servers[n].start()
            kills.append({"node": n, "restart_s": round(time.perf_counter() - t0, 2)})
            print(f"kill -9 #{k + 1}: {kills[-1]}", flush=True)
        time.sleep(rnd.uniform(args.min, args.max))
    finally:
        stop.set()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
        sending = time.perf_counter() - t_start
        t0 = time.perf_counter()
        for srv in servers[1:] + servers[:1]:  # the nodes send what they hold, the primary gathers
            srv.stop()
        stopping = time.perf_counter() - t0
    acked = [m for r in results for m in r[0]]
    with Workspace(db=dbs[0]) as ws:  # the primary, as a user opens it (gathers once more)
        from empatia.ingest.nodes import gather

        with ws.store.lock:
            late = gather(ws.store)
        con = ws.store.con
        con.execute("create temp table acked as select unnest(?::varchar[]) as message_id", [acked])
        total, distinct = con.execute("select count(*), count(distinct message_id) from events"
                                      " where message_id like 'k9-%'").fetchall()[0]  # fmt: skip
        missing = con.execute("select count(*) from acked anti join events using (message_id)"
                              ).fetchall()[0][0]  # fmt: skip
        files = [str(f) for f in lake.glob("inbox/*/*.parquet")]
        in_lake = con.execute(
            "select count(*), count(distinct message_id) from read_parquet(?)",
            [[str(f) for f in ws.store.lake.files("events")]]).fetchall()[0]  # fmt: skip
        node_left = []
    for db in dbs[1:]:
        with Workspace(db=db) as node:
            node_left.append(node.store.con.execute("select count(*) from events").fetchall()[0][0])
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"), "nodes": args.nodes,
        "clients": args.clients, "kills": kills, "sending_s": round(sending, 1),
        "acknowledged_events": len(acked), "acknowledged_per_s": round(len(acked) / sending),
        "primary_events": total, "primary_distinct": distinct, "missing_acknowledged": missing,
        "duplicates": total - distinct, "lake_events": in_lake[0], "lake_distinct": in_lake[1],
        "gathered_after_the_stop": late, "inbox_files_left": len(files),
        "left_in_nodes": node_left, "stopping_s": round(stopping, 1),
    }  # fmt: skip
    print(json.dumps(report, indent=1))
    ok = (missing == 0 and total == distinct and in_lake[0] == in_lake[1] >= len(set(acked))
          and late == 0 and not files and not any(node_left))  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
