"""Benchmark: the journeys stage and funnel/paths queries over N synthetic events.

    python benchmarks/journeys_funnel.py --events 2000000 --persons 100000

Synthesises a shop's event log in SQL (sessions of Home → Product Viewed → Product Added →
Checkout Started → Order Completed with drop-off at each step, web and app), stands in for
identity (``event_persons``), runs the ``journeys`` stage, then times a 4-step funnel, the same
funnel broken down by channel, and paths from a step (median of 5 runs each).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from empatia.journeys import funnel, paths
from empatia.workspace import Workspace

STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]

SYNTH = """
insert into events (seq, message_key, message_id, type, event, name, user_id, "timestamp",
                    received_at, source, raw)
select i + 1, i::uhugeint, 'm' || i, kind, case when kind = 'track' then step end,
       case when kind = 'page' then 'Home' end, 'u' || person, ts, ts, 'bench',
       '{"context":{"channel":"' || channel || '"}}'
from (
    select i, s, pos, (hash(s) % $persons) as person,
           timestamptz '2026-01-01' + to_seconds((hash(s * 7) % (365 * 86400))::bigint + pos * 40)
               as ts,
           case when hash(s * 3) % 2 = 0 then 'web' else 'app' end as channel,
           case when pos = 0 then 'page' else 'track' end as kind,
           case pos when 0 then 'Home' when 1 then 'Product Viewed'
               when 2 then case when hash(s * 5) % 10 < 6 then 'Product Added' else 'Product Viewed' end
               when 3 then case when hash(s * 5) % 10 < 3 then 'Checkout Started' else 'Product Viewed' end
               else case when hash(s * 5) % 10 < 2 then 'Order Completed' else 'Product Viewed' end
           end as step
    from (select i, i // 5 as s, i % 5 as pos from range($n) t(i))
)
"""


def _median(fn, runs: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Median wall time and median CPU time (all threads) of ``runs`` calls."""
    times, cpus, out = [], [], None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(times), (statistics.median(cpus), out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--db", type=Path, default=None)
    a = ap.parse_args()
    db = a.db or Path(tempfile.mkdtemp()) / "funnel.duckdb"
    ws = Workspace(db=db)
    con = ws.store.con
    t0 = time.perf_counter()
    con.execute(SYNTH, {"n": a.events, "persons": a.persons})
    con.execute("insert into event_persons select seq, user_id from events")
    t_synth = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    figures = ws.run(only=["journeys"], full=True)[0]["figures"]  # as `empatia run` runs it
    t_stage, c_stage = time.perf_counter() - t0, time.process_time() - c0
    t_f, (c_f, f) = _median(lambda: funnel(con, STEPS, within_days=7))
    t_b, (c_b, _) = _median(lambda: funnel(con, STEPS, within_days=7, breakdown="channel"))
    t_p, (c_p, _) = _median(lambda: paths(con, "Checkout Started", depth=3))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"events: {a.events:,}, persons: {a.persons:,} (synthesised in {t_synth:.1f} s)")
    print(f"journeys stage: {t_stage:.1f} s wall, {c_stage:.1f} s CPU ({figures})")
    print(f"funnel, 4 steps: {t_f:.3f} s wall / {c_f:.3f} s CPU; by channel: {t_b:.3f} / "
          f"{c_b:.3f} s; paths depth 3: {t_p:.3f} / {c_p:.3f} s")  # fmt: skip
    print("funnel:", [(s.step, s.persons) for s in f.steps])  # type: ignore[attr-defined]
    ws.close()


if __name__ == "__main__":
    main()
