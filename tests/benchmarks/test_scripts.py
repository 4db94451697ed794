"""The benchmark scripts BENCHMARKS.md names still start: each one imports what it uses
(two had kept importing pipeline internals the stage contract removed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

SCRIPTS = sorted((Path(__file__).parents[2] / "benchmarks").glob("*.py"))


def _script(name: str) -> Any:
    """``benchmarks/<name>.py`` loaded as a module (what it runs waits for ``__main__``)."""
    script = SCRIPTS[0].with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_a_benchmark_script_imports(script: Path) -> None:
    _script(script.stem)  # the script's imports; what it runs waits for __main__


def test_the_febrl_benchmark_reads_the_product_s_answer(tmp_path: Path) -> None:
    """``benchmarks/febrl.py`` through ``empatia import`` + ``run`` on a FEBRL slice: it reads
    the persons and the open review pairs back from the tables the product has now (it had
    kept asking for a review ``status`` column the review answers moved out of)."""
    febrl = _script("febrl")
    df, truth = febrl.load("febrl1")
    dupes = [r for r in df.index if "-dup-" in r][:40]
    df = df.loc[sorted(set(dupes) | {r.split("-dup-")[0] + "-org" for r in dupes})]
    found, review = febrl.product_pairs(df, tmp_path)
    true = {p for p in truth if p <= set(df.index)}
    assert found <= true and len(found) + len(review & true) >= 0.8 * len(true)
    assert all(len(p) == 2 for p in review)


def test_the_spark_benchmark_counts_each_stage_s_windows_in_one_task(tmp_path: Path) -> None:
    """``benchmarks/spark_lake.py`` gives Spark's "No Partition Defined for Window" warnings
    to the stage they came in (the lines before its ``stage …:`` line), with its seconds and
    the rows through the driver as ``empatia run``'s table prints them."""
    bench = _script("spark_lake")
    warn = "WARN WindowExec: No Partition Defined for Window operation! Moving all data"
    fake = "\n".join([
        "import sys",
        f"print({warn!r}, file=sys.stderr)",
        "print('stage identity: 1.0 s, persons=3', file=sys.stderr)",
        *[f"print({warn!r}, file=sys.stderr)"] * 2,
        "print('stage profiles: 2.0 s, driver_collected=6', file=sys.stderr)",
        "print('│ identity │ 1.0 │ persons=3 │')",
        "print('│ profiles │ 2.0 │ driver_collected=6, driver_sent=1,234 │')",
    ])  # fmt: skip
    report = bench.run(tmp_path / "store.duckdb", [], {}, [sys.executable, "-c", fake])
    stages = report["stages"]
    assert report["single_partition_warnings"] == 3
    assert stages["identity"]["single_partition_warnings"] == 1
    assert stages["profiles"]["single_partition_warnings"] == 2
    assert stages["profiles"]["seconds"] == 2.0
    assert stages["profiles"]["driver"] == {"driver_collected": 6, "driver_sent": 1234}


def test_the_spark_benchmark_models_more_task_slots_from_the_event_log(tmp_path: Path) -> None:
    """``slots_model``: each stage's tasks (Spark's event log) spread over more slots, the
    time no task ran (the driver's) kept as it was, no task split."""
    bench = _script("spark_lake")

    def task(stage: int, launch_ms: int, finish_ms: int) -> str:
        return orjson.dumps({"Event": "SparkListenerTaskEnd", "Stage ID": stage,
                             "Stage Attempt ID": 0, "Task Info": {
                                 "Launch Time": launch_ms, "Finish Time": finish_ms}}).decode()  # fmt: skip

    (tmp_path / "eventlog_v2_app-1").mkdir()  # Spark 4 rolls its event log in a folder
    (tmp_path / "eventlog_v2_app-1" / "events_1_app-1").write_text("\n".join([
        '{"Event":"SparkListenerApplicationStart"}',
        task(1, 1000, 3000), task(1, 1000, 5000),  # identity: two tasks at once, 4 s busy
        task(2, 12000, 13000),  # privacy: one task of 1 s
    ]) + "\n")  # fmt: skip
    report = {"started_at": 0.0, "stages": {"identity": {"ended_at": 10.0},
                                            "privacy": {"ended_at": 20.0}}}  # fmt: skip
    model = bench.slots_model(tmp_path, report, slots=(1, 2))
    assert model["identity"]["driver_s"] == 6.0  # 10 s, of which tasks ran for 4
    assert model["identity"]["slots_1"] == 12.0  # 6 + the two tasks one after the other
    assert model["identity"]["slots_2"] == model["identity"]["slots_inf"] == 10.0
    assert model["privacy"] == {"window_s": 10.0, "driver_s": 9.0, "task_s": 1.0,
                                "spark_stages": 1, "tasks": 1, "slots_1": 10.0, "slots_2": 10.0,
                                "slots_inf": 10.0}  # fmt: skip
