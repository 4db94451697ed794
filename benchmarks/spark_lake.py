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
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
_ROW = re.compile(r"^[│|]\s*([a-z_]+)\s*[│|]\s*([\d.]+)\s*[│|]\s*(.*?)\s*[│|]?$")
_FIGURE = re.compile(r"(driver_\w+)=([\d,]+)")
_STAGE = re.compile(r"^stage (\w+): ")


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
    stop = threading.Event()
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        proc = psutil.Popen(cmd, stdout=output, stderr=subprocess.PIPE, text=True,
                            env={**env, "PYTHONUNBUFFERED": "1"}, cwd=db.parent)  # fmt: skip
        watcher = threading.Thread(target=_peaks, args=(proc, peaks, stop), daemon=True)
        watcher.start()
        lines = []
        for line in proc.stderr or ():  # a stage's line goes to stderr as the stage ends
            lines.append(line)
            if m := _STAGE.match(line):
                stage_peaks[m[1]], peaks["stage"] = peaks["stage"] // 2**20, 0
                # as it ends, with the driver's peak: a run cut short keeps what finished
                print(f"{line.strip()} [driver python {stage_peaks[m[1]]} MB, "
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
        del s["figures"]
    # Spark's warning for a window over every row, which it runs in one task
    single = err.count("No Partition Defined for Window operation")
    return {"seconds": round(seconds, 1), "peak_mb": {k: v // 2**20 for k, v in peaks.items()},
            "single_partition_warnings": single, "stages": stages}  # fmt: skip


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
    a = p.parse_args()
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
    if a.cluster:
        master = subprocess.run(["bash", str(script), "start", str(a.work / "spark")],
                                check=True, capture_output=True, text=True,
                                env=dict(os.environ, SPARK_WORKER_MEMORY=a.executor_memory)
                                ).stdout.strip()  # fmt: skip
    try:
        report["spark"] = run(lake_db, ["--engine", "spark", "--master", master,
                                        "--conf", f"spark.executor.memory={a.executor_memory}", *only], env)  # fmt: skip
    finally:
        if a.cluster:
            subprocess.run(["bash", str(script), "stop", str(a.work / "spark")], check=False)
    report["master"], report["executor_memory"] = master, a.executor_memory
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
