"""How long building the demo world takes (goal: the default 100k world in ≤ 60 s on 2 cores).

Each run is a fresh process; it builds the world into a temporary folder and reports the
seconds per step, the events written, their size and the peak RSS. ``--import`` also times
importing the events into a fresh store through the ordinary batch importer. ``--record``
appends a row to benchmarks/results/demo.md.

    .venv/bin/python benchmarks/demo_build.py --customers 100000 --record
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from empatia.demo.world import build_world

RESULTS = Path(__file__).parent / "results" / "demo.md"
HEADER = """# Demo world (#3): build time

Goal: building the default 100,000-customer world takes ≤ 60 s on 2 cores.
Command: `.venv/bin/python benchmarks/demo_build.py --customers N [--import] --record`
(fresh process, world written to a temporary folder on local disk; "import" is
`empatia.ingest.import_files` into a fresh DuckDB store).

| date (UTC) | machine | customers | seed | events | JSONL MB | build s | events/s | peak RSS MB | import s | note |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--import", dest="do_import", action="store_true")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--note", default="shared machine")
    args = ap.parse_args()
    steps: list[tuple[str, float]] = []
    last = [time.perf_counter()]

    def progress(what: str, done: int, total: int) -> None:
        now = time.perf_counter()
        steps.append((what, now - last[0]))
        last[0] = now

    with tempfile.TemporaryDirectory() as tmp:
        world = build_world(Path(tmp), args.customers, args.seed, progress=progress)
        size = sum(p.stat().st_size for p in world.events) / 1e6
        print(
            f"{args.customers:,} customers: {world.events_total:,} events, {size:,.0f} MB JSONL "
            f"in {world.seconds:.1f} s ({world.events_total / world.seconds:,.0f} events/s)"
        )
        for (name, _), (_, sec) in zip([("start", 0.0)] + steps, steps):
            print(f"  {name:<24} {sec:6.2f} s")
        seconds_import = None
        if args.do_import:
            from empatia.ingest import import_files
            from empatia.store import Store

            with Store(Path(tmp) / "bench.duckdb") as store:
                t0 = time.perf_counter()
                report = import_files(store, world.events)
                seconds_import = time.perf_counter() - t0
            print(
                f"import: {report.accepted:,} accepted, {report.rejected:,} rejected "
                f"in {seconds_import:.1f} s"
            )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:,.0f} MB")
    if args.record:
        if not RESULTS.exists():
            RESULTS.write_text(HEADER)
        machine = f"{platform.machine()}, {os.cpu_count()} cores"
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
        imp = f"{seconds_import:.1f}" if seconds_import is not None else "—"
        with RESULTS.open("a") as f:
            f.write(
                f"| {when} | {machine} | {args.customers:,} | {args.seed} | "
                f"{world.events_total:,} | {size:,.0f} | {world.seconds:.1f} | "
                f"{world.events_total / world.seconds:,.0f} | {rss:,.0f} | {imp} | {args.note} |\n"
            )


if __name__ == "__main__":
    main()
