from __future__ import annotations

from collections.abc import Iterator

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
