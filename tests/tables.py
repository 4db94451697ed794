"""Comparing the outputs of two runs of the pipeline (engines, stores), table by table."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from empatia.pipeline import registered_stages, writers

#: Bookkeeping of a run (when it ran, its fingerprints), not results.
NOT_RESULTS = {"identity_state", "profiles_state", "privacy_state", "privacy_audit",
               "decide_runs", "emotion_config"}  # fmt: skip
#: Splink's u-probabilities come from a random sample of pairs, which differs per engine even
#: with one seed: a pair's match probability is compared to 0.1 (whether it is a match, or
#: goes to review, exactly).
SAMPLED = {("identity_review", "match_probability"), ("identity_matches", "match_probability")}
#: Columns saying when a row was computed.
WHEN = {"analyzed_at", "computed_at", "decided_at", "built_at", "updated_at", "created_at"}


def _parsed(v: Any) -> Any:
    """A value as compared: JSON text parsed, timestamps and other objects as text."""
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v
    if isinstance(v, list | tuple):
        return [_parsed(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _parsed(x) for k, x in v.items()}
    return v if v is None or isinstance(v, bool | int | float | str) else str(v)


def _shape(v: Any) -> Any:
    """A value without its fractional numbers (what rows are sorted by)."""
    if isinstance(v, float):
        return None
    if isinstance(v, list):
        return [_shape(x) for x in v]
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in v.items()}
    return v


class _Sampled(float):
    """A number from a sampled model fit: compared to 0.1."""


def _close(a: Any, b: Any) -> bool:
    """Equal, numbers within the stated tolerance: 0.1% (a model fit by an optimiser — CLV —
    lands 1e-5 apart when Spark sums in another order)."""
    if isinstance(a, _Sampled) and isinstance(b, _Sampled):
        return abs(a - b) <= 0.1
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6) or (a != a and b != b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return bool(a == b)


def table_rows(db: Path, table: str) -> list[Any]:
    """A table's rows, parsed, without the columns saying when they were computed, in order."""
    with duckdb.connect(str(db), read_only=True) as con:
        cols = [c for c, in con.execute(
            "select column_name from duckdb_columns() where table_name = ? order by column_index",
            [table]).fetchall() if c not in WHEN]  # fmt: skip
        if not cols:  # a table made only when its feature is used
            return []
        quoted = ", ".join(f'"{c}"' for c in cols)
        loose = [i for i, c in enumerate(cols) if (table, c) in SAMPLED]
        data = []
        for r in con.execute(f"select {quoted} from {table}").fetchall():
            row = _parsed(list(r))
            for i in loose:
                row[i] = _Sampled(row[i])
            data.append(row)
    return sorted(data, key=lambda r: json.dumps(_shape(r), sort_keys=True))


def differences(a: Path, b: Path) -> tuple[int, dict[str, Any]]:
    """How many result tables hold rows, and the first difference in each table that differs
    between the stores ``a`` and ``b`` (equal: numbers within the stated tolerance)."""
    compared, differ = 0, {}
    for table in sorted(set(writers(registered_stages())) - NOT_RESULTS):
        x, y = table_rows(a, table), table_rows(b, table)
        if len(x) != len(y):
            differ[table] = f"{len(x)} rows vs {len(y)}"
            continue
        bad = [(r, s) for r, s in zip(x, y, strict=True) if not _close(r, s)]
        if bad:
            differ[table] = (len(bad), bad[0])
        compared += bool(x)
    return compared, differ


def world_run_on_duckdb(folder: Path, customers: int) -> tuple[Path, Path]:
    """A demo world of ``customers`` made with the CLI, as two store files in ``folder``: one
    run with ``empatia run --full`` on DuckDB, one not run yet (for the other engine)."""
    cli = [sys.executable, "-m", "empatia"]
    world = folder / "world.duckdb"
    subprocess.run([*cli, "demo", "--customers", str(customers), "--no-serve", "--db", str(world),
                    "--out", str(folder / "events")], check=True, capture_output=True,
                   cwd=folder, timeout=600)  # fmt: skip
    duck, other = folder / "duck.duckdb", folder / "spark.duckdb"
    shutil.copy(world, duck)
    shutil.copy(world, other)
    subprocess.run([*cli, "--db", str(duck), "run", "--full"], check=True,
                   capture_output=True, cwd=folder, timeout=600)  # fmt: skip
    return duck, other
