"""``empatia run --engine spark`` from a lake, as a user runs it (issue #17).

On a *copy* of a built store (``empatia demo --no-serve --customers N``), with
``EMPATIA_STORE__KIND=lake`` and the lake in ``--work``, runs ``empatia run --full --engine spark``
as a subprocess — on ``local[2]``, or on a standalone master and worker that
``scripts/spark-cluster.sh`` starts on 127.0.0.1 (``--cluster``) — and, for comparison, the same
full run on DuckDB in the one-file store. Prints per stage: seconds, and the rows that crossed the
driver (``driver_collected``: brought to it; ``driver_sent``: sent from it to the executors)
and the warnings of windows that Spark runs in one task ("No Partition Defined for Window");
and the driver's peak memory: its Python process and its JVM, sampled every 0.2 s (on
``local[2]`` the executors live in that JVM; on the cluster they do not). Before the Spark
run, the ingest node's part is measured on its own (``ship``): the store's tables move into
the lake and the event log is sent there, as ``empatia import`` does after storing.

    python benchmarks/spark_lake.py /tmp/w/w10k.duckdb --work /tmp/w/lake10k [--cluster]

A world too big to build twice: import it into a lake store once (``EMPATIA_STORE__KIND=lake
EMPATIA_STORE__URI=LAKE empatia --db STORE import FILES``) and run on it ``--in-place``, with
``--only`` a stage at a time if one sitting cannot hold the whole run.

Several executors on the one worker: ``--cluster --executors N --executor-cores C`` (N × C cores
and N × ``--executor-memory`` for the worker); the report says how many executors each
application had (``executors``: their folders in the worker's ``work/``). ``--event-log`` keeps
Spark's event log and tells, per stage, the driver's own time (no task running) from the tasks'
and what the same tasks would take on more slots (``slots``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
_ROW = re.compile(r"^[│|]\s*([a-z_]+)\s*[│|]\s*([\d.]+)\s*[│|]\s*(.*?)\s*[│|]?$")
_FIGURE = re.compile(r"(driver_\w+)=([\d,]+)")
_STAGE = re.compile(r"^stage (\w+): ")
#: Spark's warning for a window over every row, which it runs in one task
_SINGLE = "No Partition Defined for Window operation"


def _peaks(proc: psutil.Popen, out: dict[str, int], stop: threading.Event) -> None:
    """Peak RSS of ``proc`` (Python; ``stage``: since the last stage ended) and of its Java
    children (the driver's JVM)."""
    while not stop.is_set():
        try:
            rss = proc.memory_info().rss
            out["python"], out["stage"] = max(out["python"], rss), max(out["stage"], rss)
            for child in proc.children(recursive=True):
                if "java" in child.name():
                    out["jvm"] = max(out["jvm"], child.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.2)


def run(db: Path, args: list[str], env: dict[str, str], cmd: list[str] | None = None
        ) -> dict[str, object]:  # fmt: skip
    cmd = cmd or [sys.executable, "-m", "empatia", "--db", str(db), "run", "--full", *args]
    peaks = {"python": 0, "jvm": 0, "stage": 0}
    stage_peaks: dict[str, int] = {}  # the driver's Python, while each stage ran
    stage_single: dict[str, int] = {}  # Spark's warnings of a window in one task, per stage
    stage_ended: dict[str, float] = {}  # when each stage's line came (epoch seconds)
    single = 0
    stop = threading.Event()
    t0, started = time.perf_counter(), time.time()
    with tempfile.TemporaryFile("w+") as output, psutil.Popen(
        cmd, stdout=output, stderr=subprocess.PIPE, text=True,
        env={**env, "PYTHONUNBUFFERED": "1"}, cwd=db.parent,
    ) as proc:  # fmt: skip
        watcher = threading.Thread(target=_peaks, args=(proc, peaks, stop), daemon=True)
        watcher.start()
        lines = []
        for line in proc.stderr or ():  # a stage's line goes to stderr as the stage ends
            lines.append(line)
            single += _SINGLE in line
            if m := _STAGE.match(line):
                stage_peaks[m[1]], peaks["stage"] = peaks["stage"] // 2**20, 0
                stage_single[m[1]], single = single, 0
                stage_ended[m[1]] = time.time()
                # as it ends, with the driver's peak: a run cut short keeps what finished
                print(f"{line.strip()} [driver python {stage_peaks[m[1]]} MB, "
                      f"{stage_single[m[1]]} windows in one task, "
                      f"{time.perf_counter() - t0:.0f} s in]", file=sys.stderr, flush=True)  # fmt: skip
        proc.wait()
        stop.set()
        watcher.join()
        output.seek(0)
        out, err = output.read(), "".join(lines)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    stages: dict[str, dict[str, object]] = {}
    current = None
    for line in out.splitlines():
        m = _ROW.match(line.strip())
        if m:
            current = m[1]
            stages[current] = {"seconds": float(m[2]), "figures": m[3]}
        elif current and line.strip().startswith(("│", "|")):
            stages[current]["figures"] = f"{stages[current]['figures']} {line.strip(' │|')}"
    for name, s in stages.items():
        s["driver"] = {k: int(v.replace(",", "")) for k, v in _FIGURE.findall(str(s["figures"]))}
        s["driver_python_mb"] = stage_peaks.get(name)
        s["single_partition_warnings"] = stage_single.get(name)
        s["ended_at"] = stage_ended.get(name)
        del s["figures"]
    single = err.count(_SINGLE)
    return {"seconds": round(seconds, 1), "started_at": started, "peak_mb": {k: v // 2**20 for k, v in peaks.items()},
            "single_partition_warnings": single, "stages": stages}  # fmt: skip


def slots_model(events: Path, report: dict[str, Any], slots: Sequence[int] = (1, 2, 4, 8, 16, 64)
                ) -> dict[str, dict[str, float]]:  # fmt: skip
    """Each stage's time on ``k`` task slots (executors × their cores), from Spark's event log
    of the run in ``report``: its tasks (launch → finish) are given to the stage whose window
    (the previous stage's line → its own) they started in; the time in the window when no
    task ran is the driver's (planning, commits, fits' bookkeeping) and stays as it was; each
    Spark stage of it takes ``max(longest task, its tasks' time / k)`` — the same tasks, spread
    over ``k`` slots, none split (Sparklens' model); at the slots the run had it should give
    about the seconds it measured."""
    tasks: list[tuple[float, float, int]] = []  # launch, finish (epoch s), Spark stage
    for log in sorted(f for f in events.rglob("*") if f.is_file()):  # Spark 4: a folder a run
        with log.open() as lines:
            for line in lines:
                if '"SparkListenerTaskEnd"' not in line:
                    continue
                e = json.loads(line)
                info = e["Task Info"]
                tasks.append((info["Launch Time"] / 1000, info["Finish Time"] / 1000,
                              e["Stage ID"] * 1000 + e["Stage Attempt ID"]))  # fmt: skip
    stages = sorted(((s["ended_at"], name) for name, s in report["stages"].items()
                     if s.get("ended_at")))  # fmt: skip
    out: dict[str, dict[str, float]] = {}
    begin = report["started_at"]
    for end, name in stages:
        mine = [t for t in tasks if begin <= t[0] < end]
        busy, reach = 0.0, begin  # the union of the tasks' intervals
        for launch, finish, _ in sorted(mine):
            busy += max(0.0, finish - max(launch, reach))
            reach = max(reach, finish)
        by_stage: dict[int, list[float]] = {}
        for launch, finish, sid in mine:
            by_stage.setdefault(sid, []).append(finish - launch)
        driver = (end - begin) - busy
        row = {"window_s": round(end - begin, 1), "driver_s": round(driver, 1),
               "task_s": round(sum(map(sum, by_stage.values())), 1), "spark_stages": len(by_stage),
               "tasks": len(mine)}  # fmt: skip
        for k in slots:
            row[f"slots_{k}"] = round(driver + sum(max(max(d), sum(d) / k)
                                                   for d in by_stage.values()), 1)  # fmt: skip
        row["slots_inf"] = round(driver + sum(max(d) for d in by_stage.values()), 1)
        out[name], begin = row, end
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("store", type=Path, help="a built store (never written: it is copied)")
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--cluster", action="store_true", help="a standalone master + worker")
    p.add_argument("--no-duckdb", action="store_true", help="skip the one-file DuckDB run")
    p.add_argument("--in-place", action="store_true",
                   help="STORE is a lake store already filled (`empatia import` with "
                        "EMPATIA_STORE__KIND=lake and its EMPATIA_STORE__URI): run Spark on it as "
                        "it is, no copy, no ship, no DuckDB run")  # fmt: skip
    p.add_argument("--only", action="append", default=[], metavar="STAGE",
                   help="run only this stage (repeatable), as `empatia run --only`")  # fmt: skip
    p.add_argument("--executor-memory", default="2g",
                   help="spark.executor.memory (and the cluster's worker memory); default 2g")  # fmt: skip
    p.add_argument("--executors", type=int, metavar="N",
                   help="with --cluster: N executors of --executor-cores each (spark.cores.max, "
                        "spark.executor.cores; the worker gets their cores and memory); unset: "
                        "one executor with the worker's 2 cores")  # fmt: skip
    p.add_argument("--executor-cores", type=int, default=1, metavar="C",
                   help="with --executors: cores per executor; default 1")  # fmt: skip
    p.add_argument("--event-log", action="store_true",
                   help="keep Spark's event log in WORK/events and model each stage's time on "
                        "more task slots from its tasks (``slots``)")  # fmt: skip
    a = p.parse_args()
    if a.executors and not a.cluster:
        raise SystemExit("--executors: only with --cluster")
    only = [x for s in a.only for x in ("--only", s)]
    if a.store.resolve().is_relative_to(a.work.resolve()):
        raise SystemExit(f"--work {a.work} is emptied first: it must not hold {a.store}")
    shutil.rmtree(a.work, ignore_errors=True)
    a.work.mkdir(parents=True)
    report: dict[str, object] = {"store": str(a.store)}
    if a.in_place:
        lake_db, env = a.store, dict(os.environ, PYSPARK_PYTHON=sys.executable)
        if env.get("EMPATIA_STORE__KIND") != "lake":
            raise SystemExit("--in-place: set EMPATIA_STORE__KIND=lake and EMPATIA_STORE__URI")
    else:
        if not a.no_duckdb:
            duck = a.work / "duck.duckdb"
            shutil.copy(a.store, duck)
            report["duckdb"] = run(duck, only, dict(os.environ))
        lake_db = a.work / "lake.duckdb"
        shutil.copy(a.store, lake_db)
        env = dict(os.environ, EMPATIA_STORE__KIND="lake", EMPATIA_STORE__URI=str(a.work / "lake"),
                   PYSPARK_PYTHON=sys.executable)  # fmt: skip
        # The ingest node's part, before the run: the store's tables move into the lake and the
        # event log is sent there (Workspace.import_files, as `empatia import` does after storing)
        ship = ("from empatia.workspace import Workspace\n"
                f"with Workspace(db={str(lake_db)!r}) as ws: print(ws.import_files([]))")  # fmt: skip
        report["ship"] = run(lake_db, [], env, [sys.executable, "-c", ship])
    script = ROOT / "scripts" / "spark-cluster.sh"
    master = "local[2]"
    conf = {"spark.executor.memory": a.executor_memory}
    worker = {"SPARK_WORKER_MEMORY": a.executor_memory}
    if a.executors:
        cores = a.executors * a.executor_cores
        conf |= {"spark.executor.cores": str(a.executor_cores), "spark.cores.max": str(cores)}
        if not (m := re.fullmatch(r"(\d+)([gm])", a.executor_memory.lower())):
            raise SystemExit(f"--executor-memory {a.executor_memory}: say it as 2g or 1500m")
        mb = int(m[1]) * (1024 if m[2] == "g" else 1)
        worker = {"SPARK_WORKER_CORES": str(cores), "SPARK_WORKER_MEMORY": f"{a.executors * mb}m"}
    if a.event_log:
        (a.work / "events").mkdir()
        conf |= {"spark.eventLog.enabled": "true", "spark.eventLog.compress": "false",
                 "spark.eventLog.dir": (a.work / "events").as_uri()}  # fmt: skip
    if a.cluster:
        master = subprocess.run(["bash", str(script), "start", str(a.work / "spark")],
                                check=True, capture_output=True, text=True,
                                env=dict(os.environ, **worker)).stdout.strip()  # fmt: skip
    try:
        report["spark"] = run(lake_db, ["--engine", "spark", "--master", master, *only,
                                        *(x for k, v in conf.items() for x in ("--conf", f"{k}={v}"))],
                              env)  # fmt: skip
    finally:
        if a.cluster:
            subprocess.run(["bash", str(script), "stop", str(a.work / "spark")], check=False)
    report["master"], report["executor_memory"] = master, a.executor_memory
    if a.event_log:
        report["slots"] = slots_model(a.work / "events", report["spark"])
    if a.cluster:  # the executors the run had: a folder each in the worker's work/app-*/
        apps = sorted((a.work / "spark" / "work").glob("app-*"))
        report["executors"] = [sum(d.is_dir() for d in app.iterdir()) for app in apps]
        report["executor_cores"] = a.executor_cores if a.executors else None
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
