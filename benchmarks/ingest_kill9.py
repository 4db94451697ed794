"""Durability under `kill -9`: every acknowledged event is on disk, none is stored twice.

    python benchmarks/ingest_kill9.py --kills 5 --clients 8

Creates a fresh store with `empatia init`, starts `empatia serve`, and drives it from
``--clients`` separate processes: half send single events to ``/v1/track``, half send
``/v1/batch`` requests of 1–``--batch`` events, every event with its own messageId. A request that gets
no answer (the server was killed under it) or a non-200 is sent again, unchanged, until it
gets its 200 — as a Segment client does — so events committed before the kill but never
acknowledged come back as retries and must be stored once. The server is killed with SIGKILL
at random moments (``--min``..``--max`` seconds after each start) and restarted on the same
port. After the last kill the store is opened as the product opens it and compared with the
messageIds that got a 200: missing must be 0, duplicates must be 0.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent.parent))

from tests.conftest import ServerProcess  # noqa: E402

from empatia.store import Store  # noqa: E402


def client(worker: int, url: str, key: str, batches: int, stop: mp.synchronize.Event,
           out: mp.Queue) -> None:  # fmt: skip
    """Send until ``stop`` (batches of up to ``batches`` events, or single events when 0);
    put (acked messageIds, retries, non-200 codes) on ``out``."""
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    rnd = random.Random(worker)
    acked: list[str] = []
    retries = 0
    codes: dict[int, int] = {}
    i = 0
    with httpx.Client(base_url=url, headers=auth, timeout=30) as c:
        while not stop.is_set():
            i += 1
            if batches:
                n = rnd.randint(1, batches)
                ids = [f"k9-{worker}-{i}-{j}" for j in range(n)]
                path, body = "/v1/batch", {"batch": [
                    {"type": "track", "userId": f"u{worker}-{j % 7}", "event": "Batch Event",
                     "messageId": m, "properties": {"i": i, "j": j}} for j, m in enumerate(ids)]}  # fmt: skip
            else:
                ids = [f"k9-{worker}-{i}"]
                path, body = "/v1/track", {"userId": f"u{worker}", "event": "Single Event",
                                           "messageId": ids[0], "properties": {"i": i}}  # fmt: skip
            while not stop.is_set():  # the same request again until it is acknowledged
                try:
                    r = c.post(path, json=body)
                except httpx.HTTPError:
                    retries += 1
                    time.sleep(0.05)  # the server is down: wait for the restart
                    continue
                if r.status_code == 200:
                    acked.extend(ids)
                    break
                codes[r.status_code] = codes.get(r.status_code, 0) + 1
                retries += 1
                time.sleep(0.05)
    out.put((acked, retries, codes))


class Server(ServerProcess):
    """``empatia serve`` restarted on the same port; ready when /health answers (given 10 s
    an answer: under load the first requests queue behind the clients' retries)."""

    health_timeout = 10.0

    def start(self, timeout: float = 300) -> Server:
        super().start(timeout)
        return self


def init_store(db: Path) -> str:
    """`empatia init` as a user runs it; the write key it prints once."""
    out = subprocess.run([sys.executable, "-m", "empatia.cli", "--db", str(db), "init"],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, COLUMNS="200")).stdout  # fmt: skip
    m = re.search(r"(emp_write_\S+)", out)
    if not m:
        raise SystemExit(f"no write key in `empatia init` output: {out!r}")
    return m.group(1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--min", type=float, default=4.0, help="seconds after a start, at least")
    ap.add_argument("--max", type=float, default=15.0, help="seconds after a start, at most")
    ap.add_argument("--batch", type=int, default=500, help="events per batch, at most")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    d = Path(tempfile.mkdtemp(prefix="empatia-kill9-"))
    db = d / "k9.duckdb"
    key = init_store(db)
    srv = Server(db)
    srv.start()
    ctx = mp.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=client, args=(w, srv.url, key, args.batch * (w % 2), stop, out))
             for w in range(args.clients)]  # fmt: skip
    for p in procs:
        p.start()
    kills: list[dict[str, float]] = []
    t_start = time.perf_counter()
    try:
        for k in range(args.kills):
            up = rnd.uniform(args.min, args.max)
            time.sleep(up)
            srv.kill9()
            kills.append({"after_s": round(up, 1)})
            if k < args.kills - 1:  # after the last kill the store is read as the kill left it
                t0 = time.perf_counter()
                srv.start()
                kills[-1]["restart_s"] = round(time.perf_counter() - t0, 2)
            print(f"kill -9 #{k + 1}: {kills[-1]}", flush=True)
    finally:
        stop.set()
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
        if srv.proc is not None and srv.proc.poll() is None:
            srv.kill9()
    elapsed = time.perf_counter() - t_start
    acked = [m for r in results for m in r[0]]
    codes: dict[int, int] = {}
    for r in results:
        for c, n in r[2].items():
            codes[c] = codes.get(c, 0) + n
    t0 = time.perf_counter()
    with Store(db) as s:  # opening replays the WAL, as a restart does
        reopen_s = time.perf_counter() - t0
        s.con.execute("create temp table acked (message_id varchar)")
        s.con.execute("insert into acked select unnest(?)", [acked])
        total, distinct = s.con.execute(
            "select count(*), count(distinct message_id) from events where message_id like 'k9-%'"
        ).fetchone()  # type: ignore[misc]
        missing = s.con.execute(
            "select count(*) from acked a anti join events e on e.message_id = a.message_id"
        ).fetchone()[0]  # type: ignore[index]
        unacked = s.con.execute(
            "select count(distinct e.message_id) from events e anti join acked a"
            " on e.message_id = a.message_id where e.message_id like 'k9-%'"
        ).fetchone()[0]  # type: ignore[index]
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "kills": kills, "seconds": round(elapsed, 1), "clients": args.clients,
        "acknowledged_events": len(acked), "acknowledged_distinct": len(set(acked)),
        "stored_events": total, "stored_distinct": distinct,
        "missing_acknowledged": missing, "duplicates_stored": total - distinct,
        "stored_never_acknowledged": unacked,
        "retried_requests": sum(r[1] for r in results), "non_200": codes,
        "reopen_after_last_kill_s": round(reopen_s, 2),
    }  # fmt: skip
    print(json.dumps(report, indent=1))
    sys.exit(0 if missing == 0 and total == distinct else 1)


if __name__ == "__main__":
    main()
