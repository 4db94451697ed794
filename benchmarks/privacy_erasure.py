"""Erasure on a real store, through the CLI as an operator runs it.

    empatia demo --no-serve --db /tmp/w/w100k.duckdb          # the 100k world, once
    python benchmarks/privacy_erasure.py --world /tmp/w/w100k.duckdb --work /tmp/w/e

Picks a typical customer (median number of events) and the heaviest one (most events) with a
read-only query on a copy, then on a fresh copy of the store for each run times
``empatia --db COPY subject erase email:… --dry-run`` and ``… --yes``, an id that names nobody
(``subject erase x --yes``: must exit 1 quickly and leave the file byte for byte unchanged),
and ten people in one call (one file rewrite). Reports wall seconds, peak RSS, the file size
before and after, and ``grep -c`` of the person's e-mail in the file's bytes before and after,
and the cells of any text column of any table that hold it (read-only query; DuckDB compresses
strings on disk, so a grep of 0 proves little): there before, none after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb


def copy(world: Path, dst: Path) -> Path:
    for f in dst.parent.glob(dst.name + "*"):
        f.unlink()
    for f in world.parent.glob(world.name + "*"):
        if f.name in (world.name, world.name + ".wal"):
            shutil.copyfile(f, dst.parent / (dst.name + f.name[len(world.name):]))
    os.sync()
    return dst


def timed(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``; wall seconds and peak RSS of that one child (``wait4``)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=dict(os.environ, COLUMNS="200"))  # fmt: skip
    out = p.stdout.read().decode() if p.stdout else ""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": p.returncode, "wall_s": round(time.perf_counter() - t0, 2),
            "peak_rss_mb": round(ru.ru_maxrss / 1024), "output": out.strip()[-1500:]}  # fmt: skip


def grep_c(path: Path, needle: str) -> int:
    """``grep -c -a -i -F`` on the store and its WAL: lines of bytes holding ``needle``."""
    n = 0
    for f in (path, path.with_name(path.name + ".wal")):
        if f.exists():
            r = subprocess.run(["grep", "-c", "-a", "-i", "-F", needle, str(f)],
                               capture_output=True, text=True)  # fmt: skip
            n += int(r.stdout.strip() or 0)
    return n


def leftovers(path: Path, needles: list[str]) -> int:
    """Cells of any text column of any table that still hold one of ``needles`` (any case):
    DuckDB compresses strings on disk, so ``grep`` alone can miss bytes that are there."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("set enable_progress_bar = false")
        cols = con.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = 'main' and data_type in ('VARCHAR', 'JSON')"
        ).fetchall()
        low = [n.lower() for n in needles]
        n = 0
        for t, c in cols:
            hit = " or ".join(f'contains(lower("{c}"::varchar), ?)' for _ in low)
            n += con.execute(f'select count(*) from "{t}" where {hit}', low).fetchone()[0]  # type: ignore[index]  # fmt: skip
        return n
    finally:
        con.close()


def size_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.parent.glob(path.name + "*")
                     if f.name in (path.name, path.name + ".wal")) / 1e6, 1)  # fmt: skip


def sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def people(world: Path, work: Path) -> dict[str, Any]:
    """The typical and the heaviest customer (by events), and nine more: read-only, on a copy."""
    c = copy(world, work / "ro.duckdb")
    con = duckdb.connect(str(c), read_only=True)
    rows = con.execute("""
        with n as (select person_id, count(*) events from event_persons group by all),
             e as (select person_id, min(value) email, count(*) emails from identities
                   where kind = 'email' group by all)
        select email, events from n join e using (person_id) where emails = 1
        order by events, email
    """).fetchall()  # fmt: skip
    totals = con.execute("select (select count(*) from events), (select count(distinct person_id)"
                         " from identities)").fetchone()  # fmt: skip
    con.close()
    for f in work.glob("ro.duckdb*"):
        f.unlink()
    typical, heaviest = rows[len(rows) // 2], rows[-1]
    step = len(rows) // 10
    ten = [rows[step // 2 + i * step] for i in range(10)]
    return {"events": totals[0], "people": totals[1], "typical": typical, "heaviest": heaviest,
            "ten": ten}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=Path, required=True, help="a store built by `empatia demo`")
    ap.add_argument("--work", type=Path, required=True, help="a folder for the copies")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "empatia.cli", "--db"]
    # A store built by an older version is migrated on its first open: do that once, so the
    # runs (and the byte-for-byte check) measure only the erasure.
    args.world = copy(args.world, args.work / "base.duckdb")
    subprocess.run([*cli, str(args.world), "stats"], check=True, capture_output=True)
    who = people(args.world, args.work)
    print(json.dumps({k: v for k, v in who.items() if k != "ten"}, default=str), flush=True)
    runs: list[dict[str, Any]] = []
    for label, (email, events) in (("typical", who["typical"]), ("heaviest", who["heaviest"])):
        for mode in ("--dry-run", "--yes"):
            db = copy(args.world, args.work / "c.duckdb")
            before = {"size_mb": size_mb(db), "grep_c": grep_c(db, email),
                      "cells": leftovers(args.world, [email])}  # fmt: skip
            r = timed([*cli, str(db), "subject", "erase", f"email:{email}", mode])
            r |= {"who": label, "events": events, "mode": mode, "before": before,
                  "after": {"size_mb": size_mb(db), "grep_c": grep_c(db, email),
                            "cells": leftovers(db, [email])}}  # fmt: skip
            runs.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "output"}), flush=True)
    db = copy(args.world, args.work / "c.duckdb")
    digest = sha(db)
    r = timed([*cli, str(db), "subject", "erase", "x", "--yes"])
    r |= {"who": "nobody (x)", "mode": "--yes", "unchanged": sha(db) == digest}
    runs.append(r)
    print(json.dumps(r), flush=True)
    db = copy(args.world, args.work / "c.duckdb")
    emails = [e for e, _ in who["ten"]]
    before = {"size_mb": size_mb(db), "grep_c": sum(grep_c(db, e) for e in emails),
              "cells": leftovers(args.world, emails)}  # fmt: skip
    r = timed([*cli, str(db), "subject", "erase", *(f"email:{e}" for e in emails), "--yes"])
    r |= {"who": "ten people", "events": sum(n for _, n in who["ten"]), "mode": "--yes",
          "before": before, "after": {"size_mb": size_mb(db),
                                      "grep_c": sum(grep_c(db, e) for e in emails),
                                      "cells": leftovers(db, emails)}}  # fmt: skip
    runs.append(r)
    print(json.dumps({k: v for k, v in r.items() if k != "output"}), flush=True)
    print(json.dumps({"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
                      "store_events": who["events"], "people": who["people"],
                      "runs": runs}, indent=1, default=str))  # fmt: skip


if __name__ == "__main__":
    main()
