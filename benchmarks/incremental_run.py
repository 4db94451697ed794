"""How long ``empatia run`` takes after a few new events (issue #14, finding #7).

On a *copy* of a built store (``empatia demo --no-serve``), optionally run the pipeline once to
settle it, import N new events (new orders and messages of existing people, identifies of
existing and new people) with ``empatia import``, then time ``empatia run`` as a user runs it
(a subprocess) and print the seconds of every stage.

    python benchmarks/incremental_run.py /tmp/w/w100k.duckdb --work /tmp/w/incr --events 100

The original store is never written: it is copied into ``--work`` first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

_ROW = re.compile(r"^[│|]\s*([a-z_]+)\s*[│|]\s*([\d.]+)\s*[│|]\s*(.*?)\s*[│|]?$")

_TEXTS = [
    "The parcel arrived late and the box was damaged, I am really disappointed.",
    "Thank you, the support agent solved my problem in five minutes!",
    "Czekam już trzeci tydzień na zwrot pieniędzy, nikt nie odpowiada.",
    "Die Lieferung war schnell und alles war perfekt verpackt.",
    "I have called three times and nobody can tell me where my order is.",
]


def _people(db: Path, n: int, seed: int) -> list[tuple[str, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select u.value, e.value from identities u left join identities e"
            " on e.person_id = u.person_id and e.kind = 'email'"
            " where u.kind = 'user_id' order by hash(u.value, ?) limit ?",
            [seed, n],
        ).fetchall()
    finally:
        con.close()
    return [(r[0], r[1]) for r in rows]


def make_events(db: Path, n: int, seed: int = 7) -> list[dict]:
    """``n`` new events: 40% orders, 25% messages, 20% identifies of existing people, the rest
    identifies of new people."""
    rng = random.Random(seed)
    people = _people(db, n, seed)
    now = datetime.now(UTC)
    out: list[dict] = []
    for i in range(n):
        user, email = people[i % len(people)]
        ts = (now - timedelta(minutes=n - i)).isoformat().replace("+00:00", "Z")
        share = i / n
        base = {"timestamp": ts, "messageId": f"bench-incr-{seed}-{i}", "userId": user}
        if share < 0.40:
            total = round(rng.uniform(10, 300), 2)
            out.append({**base, "type": "track", "event": "Order Completed",
                        "properties": {"order_id": f"BENCH-{seed}-{i}", "total": total,
                                       "currency": "EUR", "products": [
                                           {"product_id": "SKU-11044", "category": "household",
                                            "price": total, "quantity": 1}]},
                        "context": {"channel": "web"}})  # fmt: skip
        elif share < 0.65:
            out.append({**base, "type": "track", "event": "Message Sent",
                        "properties": {"text": rng.choice(_TEXTS), "case_id": f"BC{seed}{i}",
                                       "channel": "email"},
                        "context": {"channel": "email"}})  # fmt: skip
        elif share < 0.85:
            traits = {"email": email} if email else {}
            traits["tier"] = rng.choice(["silver", "gold"])
            out.append({**base, "type": "identify", "traits": traits})
        else:
            out.append({**base, "type": "identify", "userId": f"BENCH-NEW-{seed}-{i}",
                        "traits": {"email": f"bench.new.{seed}.{i}@example.com",
                                   "firstName": "Bench"}})  # fmt: skip
    return out


def empatia(db: Path, *args: str) -> tuple[float, str]:
    exe = Path(sys.executable).with_name("empatia")
    env = {**os.environ, "COLUMNS": "200", "EMPATIA_DB": str(db)}
    t0 = time.perf_counter()
    done = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          cwd=db.parent, check=False)  # fmt: skip
    took = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"empatia {' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")  # fmt: skip
    return took, done.stdout


def stages(out: str) -> dict[str, tuple[float, str]]:
    rows: dict[str, tuple[float, str]] = {}
    for line in out.splitlines():
        m = _ROW.match(line.strip())
        if m and m.group(1) != "stage":
            rows[m.group(1)] = (float(m.group(2)), m.group(3))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path, help="a built store (copied, never written)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/w/incr"))
    ap.add_argument("--events", type=int, default=100)
    ap.add_argument("--no-settle", action="store_true",
                    help="skip the untimed first run (the store's last run is the baseline)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--seed", type=int, default=7,
                    help="another seed, other new events (a second increment of the same store)")
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / "incr.duckdb"
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(args.store, db)
    report: dict = {"events": args.events, "cpus": os.cpu_count()}
    if not args.no_settle:
        took, out = empatia(db, "run")
        report["settle_s"] = round(took, 2)
        report["settle_stages"] = {k: v[0] for k, v in stages(out).items()}
        print(f"settle run: {took:.1f} s", flush=True)
    events = args.work / "new_events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in make_events(db, args.events, args.seed)))
    took, _ = empatia(db, "import", str(events))
    report["import_s"] = round(took, 2)
    took, out = empatia(db, "run")
    report["run_s"] = round(took, 2)
    report["stages"] = {k: v[0] for k, v in stages(out).items()}
    print(out)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
