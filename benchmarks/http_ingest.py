"""HTTP ingestion under load from a separate process (`hey`), stored count vs acknowledged.

    python benchmarks/http_ingest.py --seconds 60

(a) single-event POST /v1/track paced at --rate requests/s; (b) POST /v1/batch with 100 events
per request as fast as the server goes. Bodies carry no messageId, so the server gives each
event its own and every acknowledged event must be stored. Needs `hey` (apt-get install hey).
With ``--erased N`` only (a) runs, on a store where N people were imported and then erased with
`empatia subject erase` (one call), so the tombstone filter checks every event; ``--keep
FILE`` keeps that store for the next run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from tests.conftest import ServerProcess, count_events  # noqa: E402

from empatia.privacy.keys import create_key  # noqa: E402
from empatia.store import Store  # noqa: E402


def hey(url: str, key: str, body: Path, seconds: int, conc: int, qps_per_worker: float | None) -> dict:
    cmd = ["hey", "-z", f"{seconds}s", "-c", str(conc), "-m", "POST", "-T", "application/json",
           "-H", "Authorization: Basic " + base64.b64encode(f"{key}:".encode()).decode(), "-D", str(body), "-t", "30"]  # fmt: skip
    if qps_per_worker:
        cmd += ["-q", str(qps_per_worker)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    p99 = re.search(r"99%+ in ([\d.]+) secs", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {"codes": codes, "p99_ms": float(p99.group(1)) * 1000 if p99 else None,
            "rps": float(rps.group(1)) if rps else None}  # fmt: skip


def erase_people(db: Path, n: int) -> float:
    """Tombstones through the product: import n people, then one `empatia subject erase`."""
    f = db.parent / "people.jsonl"
    f.write_text("".join(json.dumps({"type": "identify", "userId": f"gone-{i}", "messageId": f"g{i}",
                                     "traits": {"email": f"gone-{i}@example.com"}}) + "\n"
                         for i in range(n)))  # fmt: skip
    cli = [sys.executable, "-m", "empatia.cli", "--db", str(db)]
    subprocess.run([*cli, "import", str(f)], check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run([*cli, "subject", "erase", *(f"user_id:gone-{i}" for i in range(n)), "--yes"],
                   check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - t0


def with_erased(db: Path, n: int, keep: Path | None) -> float | None:
    """A store at ``db`` in which ``n`` people were erased; built once into ``keep`` when
    given (erasing 1,000 people takes minutes), copied from there afterwards."""
    if keep is not None and keep.exists():
        shutil.copyfile(keep, db)
        return None
    seconds = erase_people(db, n)
    if keep is not None:
        shutil.copyfile(db, keep)
    return seconds


def scenario(name: str, path: str, body: dict, per_request: int, seconds: int, conc: int,
             qps: float | None, erased: int = 0, keep: Path | None = None) -> dict:  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "bench.duckdb"
        erase_s = with_erased(db, erased, keep) if erased else None
        with Store(db) as s:
            _, key = create_key(s, "write")
        base = count_events(db)
        srv = ServerProcess(db).start(timeout=300)  # a loaded machine starts it slowly
        bf = Path(d) / "body.json"
        bf.write_text(json.dumps(body))
        try:
            r = hey(srv.url + path, key, bf, seconds, conc, qps)
        finally:
            srv.stop()
        stored = count_events(db) - base
    acked = r["codes"].get(200, 0) * per_request
    return {"scenario": name, "erased_people": erased, "erase_s": erase_s, "requests_per_s": r["rps"], "events_per_s": round((r["rps"] or 0) * per_request),
            "p99_ms": r["p99_ms"], "status": r["codes"], "acknowledged_events": acked,
            "stored_events": stored, "non_200": sum(n for c, n in r["codes"].items() if c != 200),
            "equal": acked == stored}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--rate", type=int, default=2500, help="single-event requests/s")
    ap.add_argument("--erased", type=int, default=0,
                    help="erase N people first (tombstone filter on); single events only")
    ap.add_argument("--keep", type=Path, default=None,
                    help="with --erased: keep the prepared store here and reuse it next time")
    args = ap.parse_args()
    event = {"type": "track", "userId": "u-1", "event": "Product Viewed",
             "properties": {"product_id": "p-1", "price": 9.99}, "context": {"channel": "web"}}  # fmt: skip
    conc = 50
    if args.erased:
        results = [scenario(f"single /v1/track, {args.erased:,} people erased", "/v1/track", event,
                            1, args.seconds, conc, args.rate / conc, args.erased, args.keep)]  # fmt: skip
    else:
        results = [
            scenario("single /v1/track", "/v1/track", event, 1, args.seconds, conc, args.rate / conc),
            scenario("batch of 100 /v1/batch", "/v1/batch", {"batch": [event] * 100}, 100,
                     args.seconds, 8, None),
        ]
    print(json.dumps({"date": datetime.now(UTC).strftime("%Y-%m-%d"),
                      "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                      "results": results}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
