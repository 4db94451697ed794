from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from empatia.store import Store
from empatia.store.engine import DuckDBEngine, connect


@pytest.fixture
def mem_store() -> Iterator[Store]:
    s = Store(":memory:")
    yield s
    s.close()


@pytest.fixture
def duck(mem_store: Store) -> Iterator[DuckDBEngine]:
    eng = connect(mem_store)
    assert isinstance(eng, DuckDBEngine)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local[2] Spark session for the whole test run (starting one takes seconds)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from empatia.store.engine import spark_session as make

    session = make("local[2]", **{"spark.sql.shuffle.partitions": "2"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
