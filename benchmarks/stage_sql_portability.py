"""How much of each stage's own SQL Spark could run: a census for issues #16 and #17.

Builds a demo world with ``empatia demo --no-serve`` (or takes a built store), then runs
``empatia run --full`` through the public Python API (``Workspace.run``) while recording every
statement a stage sends through its :class:`~empatia.store.scoped.StageStore` (the SQL the
stage wrote itself; what Ibis compiles for identity, profiles and journeys does not pass
there and is portable by construction). Each distinct statement is then

1. transpiled from DuckDB's dialect to Spark's with SQLGlot, unsupported constructs raising
   (``unsupported_level=RAISE``), as Splink does for its backends, and
2. parsed by Spark's own SQL parser (``sessionState.sqlParser.parsePlan`` of a local
   ``SparkSession``): syntax only — no tables, so names and types are not checked.

Prints one row per stage: statements, transpiled, parsed by Spark; with ``--failures`` the
distinct reasons. Recording wraps ``StageStore.check`` (a read-only observation; the run is
the product's own).

    python benchmarks/stage_sql_portability.py --customers 2000 --work /tmp/port
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import sqlglot
from sqlglot.errors import ErrorLevel


def record(db: Path) -> dict[str, list[str]]:
    """Every distinct statement each stage ran in a full run of the store ``db``."""
    from empatia.store.scoped import StageStore
    from empatia.workspace import Workspace

    seen: dict[str, dict[str, None]] = collections.defaultdict(dict)
    check = StageStore.check

    def recording(self: StageStore, sql: str) -> bool:
        seen[self.stage][sql] = None
        return check(self, sql)

    StageStore.check = recording  # type: ignore[method-assign]
    try:
        with Workspace(db=str(db)) as ws:
            ws.run(full=True)
    finally:
        StageStore.check = check  # type: ignore[method-assign]
    return {stage: list(sqls) for stage, sqls in seen.items()}


_TX = re.compile(r"^\s*(begin|commit|rollback|abort|end)(\s+transaction)?\s*;?\s*$", re.I)
#: What ``Engine.write``/``Engine.delete`` declare to the stage's check before they write a
#: table (the rows come from Ibis, compiled per engine): counted apart, not as stage SQL.
_ENGINE = re.compile(r"^(insert into \S+ select 1|delete from \S+)$")


def transpile(sql: str) -> tuple[list[str] | None, str | None]:
    """The statements in Spark's dialect, or the reason SQLGlot gives for not making them."""
    try:
        out = sqlglot.transpile(sql, read="duckdb", write="spark",
                                unsupported_level=ErrorLevel.RAISE)  # fmt: skip
    except sqlglot.errors.SqlglotError as e:
        return None, f"sqlglot: {str(e).splitlines()[0][:120]}"
    return out, None


def spark_parser() -> object:
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("empatia-portability")
             .config("spark.ui.enabled", "false").getOrCreate())  # fmt: skip
    spark.sparkContext.setLogLevel("ERROR")
    return spark._jsparkSession.sessionState().sqlParser()  # noqa: SLF001


def spark_parses(parser: object, statements: list[str]) -> str | None:
    """``None`` when Spark parses every one of ``statements``, else the first reason."""
    for one in statements:
        try:
            parser.parsePlan(one)  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - py4j wraps Spark's ParseException
            first = next((line.strip() for line in str(e).splitlines() if line.strip()), "")
            return f"spark: {re.sub(r'^.*ParseException: ', '', first)[:120]}"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=Path("/tmp/empatia-portability"))
    ap.add_argument("--db", type=Path, help="a built store to copy instead of a new demo")
    ap.add_argument("--failures", action="store_true", help="print why statements fail")
    ap.add_argument("--json", type=Path, help="write the per-stage figures here")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / "w.duckdb"
    if args.db:
        shutil.copy(args.db, db)
    elif not db.exists():
        subprocess.run([Path(sys.executable).with_name("empatia"), "--db", str(db), "demo",
                        "--customers", str(args.customers), "--seed", str(args.seed),
                        "--no-serve"], check=True, env={**os.environ, "EMPATIA_QUIET": "1"})  # fmt: skip
    statements = record(db)
    parser = spark_parser()
    rows, reasons = [], collections.Counter()
    for stage in sorted(statements):
        sqls = [s for s in statements[stage] if not _TX.match(s) and not _ENGINE.match(s)]
        engine = sum(bool(_ENGINE.match(s)) for s in statements[stage])
        ok_t = ok_p = 0
        for sql in sqls:
            spark_sql, why = transpile(sql)
            if spark_sql is not None:
                ok_t += 1
                why = spark_parses(parser, spark_sql)
                ok_p += why is None
            if why:
                reasons[(stage, why)] += 1
        rows.append({"stage": stage, "statements": len(sqls), "transpiled": ok_t,
                     "spark_parses": ok_p, "engine_writes": engine})  # fmt: skip
    keys = ("statements", "transpiled", "spark_parses", "engine_writes")
    total = {k: sum(r[k] for r in rows) for k in keys}
    print(f"{'stage':<12} {'statements':>10} {'transpiled':>11} {'Spark parses':>13}"
          f" {'engine writes':>14}")  # fmt: skip
    for r in [*rows, {"stage": "all", **total}]:
        share = f"{r['spark_parses'] / r['statements']:.0%}" if r["statements"] else "-"
        print(f"{r['stage']:<12} {r['statements']:>10} {r['transpiled']:>11} "
              f"{r['spark_parses']:>8} ({share}) {r['engine_writes']:>14}")  # fmt: skip
    if args.failures:
        for (stage, why), n in reasons.most_common():
            print(f"{n:>4}  {stage:<11} {why}")
    if args.json:
        args.json.write_text(json.dumps({"stages": rows, "total": total,
                                         "customers": args.customers}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
