"""Shared fixtures: a temporary store, an in-process app, a real server in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import httpx
import pytest

from empatia.privacy.keys import create_key
from empatia.store import Store
from empatia.workspace import Workspace

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# the CLI's consoles fix their width when they are made if COLUMNS is set then (pytest-xdist's
# workers have it); without it they read it at each print, as the tests set it per command
os.environ.pop("COLUMNS", None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "empatia.duckdb"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store(db_path)
    yield s
    s.close()


@pytest.fixture
def workspace(db_path: Path) -> Iterator[Workspace]:
    ws = Workspace(db=db_path)
    yield ws
    ws.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``empatia serve`` in a subprocess, as a user would run it."""

    def __init__(self, db: Path, args: tuple[str, ...] = ()) -> None:
        self.db = db
        self.args = args  # more `empatia serve` options, e.g. --workspace NAME=PATH
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".server.log")

    #: seconds one /health request may take while the server starts
    health_timeout: float = 1.0

    def start(self, timeout: float = 120) -> ServerProcess:
        env = dict(os.environ, EMPATIA_DB=str(self.db))
        with open(self.log, "ab") as log:  # the server writes to its own copy of the file
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "empatia.cli", "serve", "--port", str(self.port),
                 *self.args],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=self.health_timeout).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in time")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def write_key(db_path: Path) -> str:
    with Store(db_path) as s:
        _, secret = create_key(s, "write", "test")
    return secret


@pytest.fixture
def server(db_path: Path, write_key: str) -> Iterator[ServerProcess]:
    srv = ServerProcess(db_path).start()
    yield srv
    srv.stop()


def count_events(db: Path) -> int:
    with Store(db) as s:
        return int(s.con.execute("select count(*) from events").fetchone()[0])  # type: ignore[index]


# -- incremental stages (issue #14, #7): one small world, changed and run both ways ----------
@pytest.fixture(scope="session")
def incremental_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.store.incremental_world import template

    return template(tmp_path_factory.mktemp("incremental_template"))


@pytest.fixture(scope="session")
def incremental_outcome(incremental_template: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """New events (orders, a message, a new person, a merge): incremental run vs ``--full``."""
    from tests.store.incremental_world import run_both

    return run_both(incremental_template, tmp_path_factory.mktemp("incremental_new"))


@pytest.fixture(scope="session")
def erasure_outcome(incremental_template: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The same, with a person erased before the run."""
    from tests.store.incremental_world import run_both

    return run_both(incremental_template, tmp_path_factory.mktemp("incremental_erased"), erase=True)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local[2] Spark session for the whole test run (starting one takes seconds); tests
    that use it are marked ``spark`` and run with ``EMPATIA_SPARK_TESTS=1``."""
    pytest.importorskip("pyspark")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from empatia.store.engine import spark_session as make

    session = make("local[2]", **{"spark.sql.shuffle.partitions": "2"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _no_duckdb_in_the_driver_of_a_spark_run(request: pytest.FixtureRequest,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """On Spark the executors read the store's tables: while a Spark engine is open, a DuckDB
    engine over the store in the driver's process is refused in every test on the Spark
    session — it would read the tables in the driver (#17: emotion's ``auto`` read the 1M
    world's event log there, 3.6 GB, with no row crossing Spark's driver)."""
    if "spark_session" not in request.fixturenames:
        return
    from empatia.store import engine

    live: list[object] = []
    spark_init, spark_close = engine.SparkEngine.__init__, engine.SparkEngine.close
    duck_init = engine.DuckDBEngine.__init__

    def opened(self: Any, *args: Any, **kwargs: Any) -> None:
        spark_init(self, *args, **kwargs)
        live.append(self)

    def closed(self: Any) -> None:
        spark_close(self)
        if self in live:
            live.remove(self)

    def duck(self: Any, store: Any) -> None:
        if live:
            raise AssertionError("a DuckDB engine over the store was opened in the driver "
                                 "while a Spark engine runs")  # fmt: skip
        duck_init(self, store)

    monkeypatch.setattr(engine.SparkEngine, "__init__", opened)
    monkeypatch.setattr(engine.SparkEngine, "close", closed)
    monkeypatch.setattr(engine.DuckDBEngine, "__init__", duck)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``: ``-n auto --dist loadgroup --no-loadscope-reorder``)
    the tests on the local Spark session run in one worker (one session), each folder's tests
    in one worker (its session fixtures made once, its modules' tests in order), each top-level
    file's in one (the cluster's and Spark Connect's, with JVMs of their own, beside the rest).

    Schemathesis names each operation's test (``test_no_server_errors[GET /health]``) but
    leaves them one node id, which pytest-xdist takes for one test: it ran 1 of 62. Each gets
    its name as its id (what pytest gives an item a plugin names no id for)."""
    for item in items:
        if item.parent is not None and item.name != item.nodeid.rpartition("::")[2]:
            item._id = item.parent.id.child(item.name)
    if len({item.nodeid for item in items}) < len(items):
        raise pytest.UsageError("two tests share a node id: pytest-xdist would run one of them")
    if not getattr(config.option, "loadgroup", False):  # a pytest-xdist worker, --dist loadgroup
        return
    groups: dict[pytest.Item, str] = {}
    for item in items:  # xdist's own xdist_group marker sets a field pytest 9 no longer reads
        path = Path(item.nodeid.split("::")[0])
        groups[item] = "spark" if "spark_session" in getattr(item, "fixturenames", ()) else \
            str(path if path.parent == Path("tests") else path.parent)  # fmt: skip
        assert item.parent is not None
        item._id = item.parent.id.child(f"{item.name}@{groups[item]}")
    # the longest first (the cluster ≈ 6 min, the Spark session's ≈ 5 min), one per worker,
    # with --no-loadscope-reorder: xdist otherwise starts the groups of most tests first
    items.sort(key=lambda item: LONGEST.index(groups[item]) if groups[item] in LONGEST else 9)


#: The groups of tests that take longest (``pytest -n auto --dist loadgroup --durations``).
LONGEST = ["tests/test_spark_cluster.py", "spark"]
