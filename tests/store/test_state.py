"""A stage's key → value state: the last value put is the one read, and keeping it costs the
process no memory while a stage's transaction is open (#17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from empatia.store import Store, state


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with Store(":memory:") as s:
        yield s


@given(st.lists(st.tuples(st.sampled_from("abc"), st.one_of(st.none(), st.text(max_size=5)))))
def test_each_key_reads_the_last_value_put(store: Store, puts: list[tuple[str, str | None]]) -> None:
    store.con.execute("delete from profiles_state")
    last: dict[str, str | None] = {}
    for key, value in puts:
        state.put(store.con, "profiles_state", **{key: value})
        last[key] = value
    assert state.items(store.con, "profiles_state") == {k: v for k, v in last.items() if v is not None}
    assert store.con.execute("select count(*) from profiles_state").fetchone() == (len(last),)


def test_a_long_run_keeping_its_state_does_not_grow_the_process(tmp_path: Path) -> None:
    """A stage keeps its progress, and a lake store moves a table's view, hundreds of times a
    run while the stage's transaction is open; DuckDB's ``insert or replace`` held ≈ 0.5 MB a
    time until that transaction ended (28 MB of the Spark driver for emotion's 64 parts)."""
    with Store(tmp_path / "s.duckdb") as s:
        stage = s.con.cursor()
        stage.execute("begin")
        stage.execute("select count(*) from emotion_config").fetchall()  # a stage reading
        me = psutil.Process()
        state.put(s.con, "emotion_config", scanned_seq=0)
        before = me.memory_info().rss
        for i in range(300):
            state.put(s.con, "emotion_config", scanned_seq=i)
        grown = (me.memory_info().rss - before) / 2**20
        stage.execute("rollback")
        assert state.get(s.con, "emotion_config", "scanned_seq") == "299"
        assert grown < 40, f"the process grew {grown:.0f} MB for 300 values of one key"
