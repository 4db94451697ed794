from __future__ import annotations

import builtins
from typing import Any

import ibis
import pytest

from empatia.errors import ConfigError, MissingExtraError
from empatia.store import Store
from empatia.store.engine import DuckDBEngine, connect, union


def test_duckdb_engine_reads_and_writes_the_store() -> None:
    with Store(":memory:") as store:
        store.con.execute("create table t (a bigint, b varchar)")
        eng = connect(store)
        assert isinstance(eng, DuckDBEngine)
        src = eng.from_arrow(ibis.memtable({"a": [1, 2], "b": ["x", "y"]}).to_pyarrow(), "src")
        assert eng.write(src.filter(src.a > 1), "t") == 1
        assert eng.write(src, "t", replace=False) == 2
        assert store.con.execute("select count(*) from t").fetchone() == (3,)
        doc = ibis.literal('{"a": {"b": "c", "n": 5}}')
        assert eng.json_str(doc, "$.a.b").to_pyarrow().as_py() == "c"
        assert eng.json_str(doc, "$.a.n").to_pyarrow().as_py() == "5"
        assert eng.json_str(doc, "$.zz").to_pyarrow().as_py() is None
        eng.close()
        # the engine works on its own cursor: the store's connection keeps its settings
        assert store.con.execute("select count(*) from t").fetchone() == (3,)


def test_union_ignores_nullability() -> None:
    a = ibis.memtable({"x": [1]}).select(x=ibis.literal(1))
    b = ibis.memtable({"x": [2]})
    assert sorted(union(a, b).to_pyarrow()["x"].to_pylist()) == [1, 2]


def test_unknown_engine() -> None:
    with Store(":memory:") as store, pytest.raises(ConfigError, match="duckdb, spark"):
        connect(store, "polars")


def test_spark_without_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyspark" or name.startswith("pyspark."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with Store(":memory:") as store, pytest.raises(MissingExtraError) as err:
        connect(store, "spark")
    assert err.value.details == {"package": "pyspark", "extra": "spark"}


def test_stages_share_an_engine_when_the_runner_gives_one() -> None:
    from types import SimpleNamespace

    from empatia.store.engine import engine_for

    with Store(":memory:") as store:
        shared = connect(store)
        ctx = SimpleNamespace(engine_instance=shared, workspace=None, engine="duckdb")
        assert engine_for(ctx) == (shared, False)
        ctx = SimpleNamespace(engine_instance=None, master=None, spark_session=None,
                              workspace=SimpleNamespace(store=store), engine="duckdb")
        eng, own = engine_for(ctx)
        assert own and isinstance(eng, DuckDBEngine)
        eng.close()
        shared.close()
