"""The whole pipeline on a real Spark cluster: a standalone master and a worker on 127.0.0.1
(started by ``scripts/spark-cluster.sh``), the run submitted as a user submits it —
``spark-submit --master spark://… empatia/__main__.py run --engine spark`` in client mode —
and every stage's outputs compared with a DuckDB run of the same world, Splink on."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

import empatia.__main__
from empatia.pipeline import registered_stages, writers

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1"),
]

ROOT = Path(__file__).resolve().parents[1]
#: Bookkeeping of a run (when it ran, its fingerprints), not results.
NOT_RESULTS = {"identity_state", "profiles_state", "privacy_state", "privacy_audit",
               "decide_runs", "emotion_config"}  # fmt: skip
#: Splink's u-probabilities come from a random sample of pairs, which differs per engine even
#: with one seed: a pair's match probability is compared to 0.1 (whether it is a match, or
#: goes to review, exactly).
SAMPLED = {("identity_review", "match_probability"), ("identity_matches", "match_probability")}
#: Columns saying when a row was computed.
WHEN = {"analyzed_at", "computed_at", "decided_at", "built_at", "updated_at", "created_at"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A standalone master and one worker, as the project's own script starts them."""
    folder = tmp_path_factory.mktemp("spark")
    script = ROOT / "scripts" / "spark-cluster.sh"
    env = dict(os.environ, PYTHON=sys.executable)
    p = subprocess.run(["bash", str(script), "start", str(folder)], capture_output=True,
                       text=True, env=env, timeout=180)  # fmt: skip
    assert p.returncode == 0, p.stderr
    try:
        yield p.stdout.strip(), (folder / "master-webui-url").read_text().strip()
    finally:
        subprocess.run(["bash", str(script), "stop", str(folder)], env=env, timeout=120)


def _apps(webui: str) -> list[tuple[str, str]]:
    with urllib.request.urlopen(f"{webui}/json/", timeout=10) as r:
        state = json.load(r)
    return [(a["name"], a["state"]) for a in state["completedapps"] + state["activeapps"]]


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


def _rows(db: Path, table: str) -> list[Any]:
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


def test_the_pipeline_runs_on_a_standalone_cluster_as_on_duckdb(
    cluster: tuple[str, str], tmp_path: Path
) -> None:
    master, webui = cluster
    cli = [sys.executable, "-m", "empatia"]
    world = tmp_path / "world.duckdb"
    subprocess.run([*cli, "demo", "--customers", "150", "--no-serve", "--db", str(world),
                    "--out", str(tmp_path / "events")], check=True, capture_output=True,
                   cwd=tmp_path, timeout=600)  # fmt: skip
    duck, spark = tmp_path / "duck.duckdb", tmp_path / "spark.duckdb"
    shutil.copy(world, duck)
    shutil.copy(world, spark)
    subprocess.run([*cli, "--db", str(duck), "run", "--full"], check=True,
                   capture_output=True, cwd=tmp_path, timeout=600)  # fmt: skip

    import pyspark

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    p = subprocess.run(
        [str(submit), "--master", master, "--conf", "spark.executor.memory=1g",
         empatia.__main__.__file__, "--db", str(spark), "run", "--engine", "spark", "--full"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    # spark-submit's --master is where it ran (it used to run on local[2] whatever it said)
    assert ("empatia", "FINISHED") in _apps(webui)
    identity = next(line for line in p.stdout.splitlines() if line.startswith("stage identity"))
    assert "matching_failed" not in identity and "matched_pairs=0," not in identity, identity

    compared = 0
    for table in sorted(set(writers(registered_stages())) - NOT_RESULTS):
        d, s = _rows(duck, table), _rows(spark, table)
        assert len(d) == len(s), table
        differ = [(a, b) for a, b in zip(d, s, strict=True) if not _close(a, b)]
        assert not differ, (table, len(differ), differ[0])
        compared += bool(d)
    assert compared >= 30  # every stage's outputs, not a few empty tables
