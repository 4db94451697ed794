"""Bulk import of Segment JSONL vs DuckDB's own read_json of the same file, with peak RSS.

    python benchmarks/import_bulk.py --events 1000000

Each measurement runs in a fresh subprocess so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent

EMPATIA = """
import json, resource, sys, time
from empatia.store import Store
from empatia.ingest import import_files
s = Store(sys.argv[1])
t = time.perf_counter()
r = import_files(s, [sys.argv[2]])
dt = time.perf_counter() - t
s.close()
print(json.dumps({"seconds": dt, "accepted": r.accepted, "rejected": r.rejected,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

READ_JSON = """
import json, resource, sys, time, duckdb
c = duckdb.connect(sys.argv[1])
t = time.perf_counter()
c.execute(f"create table raw_events as select * from read_json('{sys.argv[2]}', format='newline_delimited')")
c.execute("checkpoint")
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, db: Path, data: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, str(db), str(data)], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "events.jsonl"
        sys.path.insert(0, str(HERE))
        from gen_segment_events import generate

        generate(args.events, str(data))
        size_mb = data.stat().st_size / 2**20
        ours = run(EMPATIA, Path(d) / "a.duckdb", data)
        again = run(EMPATIA, Path(d) / "a.duckdb", data)  # re-import: all duplicates
        theirs = run(READ_JSON, Path(d) / "b.duckdb", data)
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "events": args.events, "file_mb": round(size_mb), "empatia_s": round(ours["seconds"], 2),
        "events_per_s": round(args.events / ours["seconds"]), "rss_mb": round(ours["rss_mb"]),
        "reimport_s": round(again["seconds"], 2), "reimport_accepted": again["accepted"],
        "read_json_s": round(theirs["seconds"], 2), "ratio": round(ours["seconds"] / theirs["seconds"], 2),
    }  # fmt: skip
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
