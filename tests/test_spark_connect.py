"""The whole pipeline through Spark Connect, as a user of a shared Spark Connect server (or of
Databricks Connect) runs it: ``SPARK_REMOTE=sc://host:port empatia run --engine spark`` from a
lake store. The server is Spark's own (``sbin/start-connect-server.sh`` of the venv's pyspark)
on 127.0.0.1, a process apart; every stage's outputs are compared with a DuckDB run of the
same world, Splink on. That run is left out of ``make test`` (its budget): run it with
``EMPATIA_SPARK_TESTS=1 EMPATIA_SPARK_CONNECT_TESTS=1 pytest tests/test_spark_connect.py``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.tables import differences, world_run_on_duckdb

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1"),
]


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A Spark Connect server on ``local[2]``: its URL and its log folder."""
    pyspark = pytest.importorskip("pyspark")
    home = Path(pyspark.__file__).parent
    folder = tmp_path_factory.mktemp("connect")
    port = free_port()
    env = dict(os.environ, SPARK_HOME=str(home), SPARK_PID_DIR=str(folder),
               SPARK_LOG_DIR=str(folder / "logs"), SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable)  # fmt: skip
    start = [str(home / "sbin" / "start-connect-server.sh"), "--master", "local[2]",
             "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
             "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2"]  # fmt: skip
    subprocess.run(start, check=True, capture_output=True, env=env, timeout=120)
    try:
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            logs = "".join(p.read_text() for p in (folder / "logs").glob("*.out"))
            assert time.monotonic() < deadline, f"no Spark Connect server on {port}: {logs[-2000:]}"
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}", folder / "logs"
    finally:
        subprocess.run([str(home / "sbin" / "stop-connect-server.sh")], env=env, timeout=120,
                       capture_output=True)  # fmt: skip


@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_CONNECT_TESTS"),
                    reason="set EMPATIA_SPARK_CONNECT_TESTS=1 (a second JVM, ≈ 4 min on 2 cores)")
def test_the_pipeline_runs_through_spark_connect_as_on_duckdb(
    connect_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, logs = connect_server
    cli = [sys.executable, "-m", "empatia"]
    duck, spark = world_run_on_duckdb(tmp_path, 120)

    lake = tmp_path / "lake"
    env = dict(os.environ, SPARK_REMOTE=url, EMPATIA_STORE__KIND="lake",
               EMPATIA_STORE__URI=str(lake))  # fmt: skip
    p = subprocess.run([*cli, "--db", str(spark), "run", "--engine", "spark", "--full"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    # the server ran it: the client's jar of Splink's similarity functions reached it
    assert "similarity" in "".join(f.read_text() for f in logs.glob("*.out")).lower()
    assert "matched_pairs=" in p.stdout and "matched_pairs=0," not in p.stdout, p.stdout
    assert "matching_failed" not in p.stdout, p.stdout

    assert (lake / "profiles" / "_delta_log").is_dir()
    compared, differ = differences(duck, spark)
    assert not differ, differ
    assert compared >= 30


def test_a_spark_connect_server_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    """A wrong ``SPARK_REMOTE`` does not run the pipeline somewhere else: it says so."""
    env = dict(os.environ, SPARK_REMOTE=f"sc://127.0.0.1:{free_port()}")
    p = subprocess.run([sys.executable, "-m", "empatia", "--db", str(tmp_path / "e.duckdb"),
                        "run", "--engine", "spark"], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=300)  # fmt: skip
    assert p.returncode == 2, p.stderr[-2000:]  # at once: the client alone retries for minutes
    assert p.stderr.count("\n") == 1 and "no Spark Connect server answers at 127.0.0.1:" in p.stderr
    for wrong in ("http://127.0.0.1:15002", "sc://127.0.0.1:port/;token=secret"):
        p = subprocess.run([sys.executable, "-m", "empatia", "--db", str(tmp_path / "e.duckdb"),
                            "run", "--engine", "spark"], capture_output=True, text=True,
                           env=dict(os.environ, SPARK_REMOTE=wrong), cwd=tmp_path, timeout=300)  # fmt: skip
        assert p.returncode == 2 and "is not a Spark Connect URL" in p.stderr, p.stderr[-2000:]
        assert "secret" not in p.stderr
