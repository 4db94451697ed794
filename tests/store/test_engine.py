from __future__ import annotations

import builtins
import os
import sys
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empatia.errors import ConfigError, MissingExtraError
from empatia.store import Store
from empatia.store.engine import DuckDBEngine, connect, jaro_winkler, levenshtein, union


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
                              store=store, engine="duckdb")
        eng, own = engine_for(ctx)
        assert own and isinstance(eng, DuckDBEngine)
        eng.close()
        shared.close()


# -- Python model steps (Engine.map_batches) ---------------------------------------------
def _words(batch: pa.RecordBatch) -> pa.Table:
    """A model step that makes several rows of one (and none of an empty text)."""
    ids, words = [], []
    for i, text in zip(batch["id"].to_pylist(), batch["text"].to_pylist(), strict=True):
        for w in (text or "").split():
            ids.append(i)
            words.append(w.upper())
    return pa.table({"word": words, "id": ids})


_WORDS = pa.schema([("id", pa.int64()), ("word", pa.string())])
_TEXTS = {"id": list(range(5000)), "text": [("a b" if i % 3 else "") for i in range(5000)]}


def _mapped_words(eng: Any) -> list[tuple[int, str]]:
    src = eng.from_arrow(pa.table(_TEXTS), "texts")
    out = eng.map_batches(src.filter(src.id >= 10), _words, _WORDS, "words")
    assert out.schema().names == ("id", "word")
    return sorted(out.to_pyarrow().to_pylist(), key=lambda r: (r["id"], r["word"]))  # type: ignore[no-any-return]


def test_a_model_step_maps_batches_in_process_on_duckdb() -> None:
    with Store(":memory:") as store, connect(store) as eng:
        rows = _mapped_words(eng)
    expected = [{"id": i, "word": w} for i in range(10, 5000) if i % 3 for w in ("A", "B")]
    assert rows == expected  # more batches than one, rows made and dropped, columns reordered


def test_a_model_step_over_no_rows_gives_an_empty_table_of_its_schema() -> None:
    with Store(":memory:") as store, connect(store) as eng:
        src = eng.from_arrow(pa.table(_TEXTS), "texts")
        out = eng.map_batches(src.filter(src.id < 0), _words, _WORDS, "words")
        assert out.schema().to_pyarrow() == _WORDS and eng.count(out) == 0


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_a_model_step_runs_in_sparks_python_workers_with_the_same_rows(spark_session: Any) -> None:
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers lack tests/
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        spark_rows = _mapped_words(eng)
    with Store(":memory:") as store, connect(store) as eng:
        assert spark_rows == _mapped_words(eng)


def _kept(spark_session: Any) -> dict[int, tuple[int, int]]:
    """The rows Spark keeps: each kept RDD's bytes in the executors' memory and on disk."""
    return {i.id(): (i.memSize(), i.diskSize())
            for i in spark_session.sparkContext._jsc.sc().getRDDStorageInfo()}  # fmt: skip


@pytest.mark.spark
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_what_a_stage_keeps_on_spark_stays_out_of_the_executors_heap(spark_session: Any) -> None:
    """A made table and a model step's rows are kept on the executors' disks: kept in their
    memory they took the heap that decide's next step needed, and 2 GB executors ran out of
    it at 1M people (#17)."""
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers lack tests/
    before = _kept(spark_session)
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        src = eng.from_arrow(pa.table(_TEXTS), "texts")
        made = eng.materialize(src.filter(src.id >= 10), "made")
        words = eng.map_batches(made, _words, _WORDS, "words")
        assert eng.count(words) == 2 * sum(1 for i in range(10, 5000) if i % 3)
        kept = {k: v for k, v in _kept(spark_session).items() if k not in before}
        sizes = sorted(disk for _, disk in kept.values())
        assert len(kept) == 3 and sizes[0] == 0  # the texts sent from here, cached (memory)
        assert [mem for mem, disk in kept.values() if disk] == [0, 0]  # the two kept on disk


@pytest.mark.spark
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_what_splink_keeps_on_spark_stays_out_of_the_executors_heap(spark_session: Any) -> None:
    # the pairs and comparison vectors Splink persists between its steps go to disk, as a
    # stage's own tables do; the few hundred agreement-pattern counts stay in one partition
    from pyspark import StorageLevel

    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        api, df = eng.splink_api(), spark_session.range(1000)
        kept = api._break_lineage_and_repartition(df, "__splink__df_comparison_vectors", "cv")
        assert kept.storageLevel == StorageLevel.DISK_ONLY
        assert kept.count() == 1000 and not df.is_cached
        _ = api._break_lineage_and_repartition(df, "__splink__df_concat", "c")  # not kept
        assert not df.is_cached
        kept.unpersist()


@pytest.mark.spark
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_splinks_pairs_take_as_many_partitions_as_their_size_needs(spark_session: Any) -> None:
    # #17: on a cluster (spark.sql.shuffle.partitions 200) Splink spread 198 people's pairs over
    # 100 partitions, and every later read of them over 200: 1,392 tasks in identity on a
    # 150-customer world, 493 now
    previous = spark_session.conf.get("spark.sql.shuffle.partitions")
    spark_session.conf.set("spark.sql.shuffle.partitions", "200")
    try:
        with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
            api, df = eng.splink_api(), spark_session.range(1000)
            for name in ("__splink__df_comparison_vectors", "__splink__blocked_id_pairs"):
                kept = api._break_lineage_and_repartition(df, name, "cv")
                assert kept.count() == 1000
                assert kept.rdd.getNumPartitions() <= 2, name  # 100 before
                kept.unpersist()
    finally:
        spark_session.conf.set("spark.sql.shuffle.partitions", previous)


# -- Engine.update: a few columns of matching rows, in place ------------------------------
def _updated(store: Store, eng: Any) -> list[tuple[Any, ...]]:
    store.con.execute("create table t (k varchar, a bigint, b varchar, c double)")
    store.con.execute("insert into t values ('k1', 1, 'x', 0.5), ('k2', 2, 'y', 1.5),"
                      " ('k3', 3, null, 2.5), (null, 4, 'w', 3.5)")  # fmt: skip
    eng.invalidate("t")
    rows = eng.from_arrow(pa.table({"k": ["k1", "k3", "kx"], "a": [10, 30, 99],
                                    "b": [None, "z", "q"]}), "changes")  # fmt: skip
    eng.update("t", rows, "k")
    return store.con.execute("select k, a, b, c from t order by a").fetchall()  # type: ignore[no-any-return]


_UPDATED = [("k2", 2, "y", 1.5), (None, 4, "w", 3.5), ("k1", 10, None, 0.5), ("k3", 30, "z", 2.5)]


def test_an_update_sets_the_named_columns_of_the_matching_rows_only() -> None:
    # a null is a value to set; a key the table lacks adds nothing; other columns stay
    with Store(":memory:") as store, connect(store) as eng:
        assert _updated(store, eng) == _UPDATED


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_an_update_on_spark_leaves_the_same_rows(spark_session: Any) -> None:
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        assert _updated(store, eng) == _UPDATED


# -- Engine.explode_json: a JSON list column as rows, read as DuckDB's from_json reads it ----
_LINE = pa.schema([("id", pa.string()), ("price", pa.float64()), ("n", pa.int64())])
_DOCS = {
    "k": [1, 2, 3, 4, 5, 6],
    "doc": ['[{"id": "a", "price": 2.5, "n": 1}, {"id": 7, "price": "3", "n": null}]',
            '["not a line", {"price": "x"}]', '{"id": "not a list"}', "[broken", None, "[]"],
}  # fmt: skip
_EXPLODED = [
    {"k": 1, "pos": 0, "id": "a", "price": 2.5, "n": 1},
    {"k": 1, "pos": 1, "id": "7", "price": 3.0, "n": None},  # a number as text, text as a number
    {"k": 2, "pos": 0, "id": None, "price": None, "n": None},  # no object: nulls
    {"k": 2, "pos": 1, "id": None, "price": None, "n": None},  # no number: null
]


def _exploded(eng: Any) -> list[dict[str, Any]]:
    src = eng.from_arrow(pa.table(_DOCS), "docs")
    out = eng.explode_json(src, "doc", _LINE, "lines")
    assert out.schema().names == ("k", "pos", "id", "price", "n")
    return sorted(eng.to_arrow(out).to_pylist(), key=lambda r: (r["k"], r["pos"]))  # type: ignore[no-any-return]


def test_a_json_list_becomes_rows_in_the_stores_sql() -> None:
    with Store(":memory:") as store, connect(store) as eng:
        assert _exploded(eng) == _EXPLODED


def test_the_model_step_reads_json_lists_as_the_stores_sql_does() -> None:
    from empatia.store.engine import Engine

    with Store(":memory:") as store, connect(store) as eng:  # the base's step, in this process
        src = eng.from_arrow(pa.table(_DOCS), "docs")
        rows = eng.to_arrow(Engine.explode_json(eng, src, "doc", _LINE)).to_pylist()
        assert sorted(rows, key=lambda r: (r["k"], r["pos"])) == _EXPLODED


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_json_lists_on_spark_become_the_same_rows(spark_session: Any) -> None:
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        assert _exploded(eng) == _EXPLODED


# -- Engine.json_strs: several paths of one document, the same values as json_str ----------
_JSON_DOCS = {"raw": ['{"a": {"b": 1}, "c": "x", "d": null}', None, '{"c": [1, 2], "a": "t"}',
                      '{"a": {"b": "é \\"q\\""}}']}  # fmt: skip
_PATHS = ["$.a.b", "$.c", "$.zz", "$.a", "$.d"]


def _json_both(eng: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    t = eng.from_arrow(pa.table(_JSON_DOCS), "docs")
    many = t.select(*(v.name(f"v{i}") for i, v in enumerate(eng.json_strs(t.raw, _PATHS))))
    one = t.select(*(eng.json_str(t.raw, p).name(f"v{i}") for i, p in enumerate(_PATHS)))
    return eng.to_arrow(many).to_pylist(), eng.to_arrow(one).to_pylist()


def test_several_json_paths_read_once_give_what_each_path_gives() -> None:
    with Store(":memory:") as store, connect(store) as eng:
        many, one = _json_both(eng)
    assert many == one
    assert many[0] == {"v0": "1", "v1": "x", "v2": None, "v3": '{"b":1}', "v4": None}
    assert many[3]["v0"] == 'é "q"'


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_several_json_paths_on_spark(spark_session: Any) -> None:
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        many, one = _json_both(eng)
    assert many == one


@pytest.mark.spark
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_spark_counts_the_rows_that_cross_the_driver(spark_session: Any) -> None:
    """What a run reports as driver_collected / driver_sent: every row brought to the driver
    (however a stage asks: the engine's to_arrow, an expression's own to_pyarrow or
    execute) and every row it sends (a store table, local data)."""
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        t = eng.from_arrow(pa.table({"n": list(range(7))}))
        assert eng.meter == {"sent": 7}
        eng.to_arrow(t.filter(t.n < 5))
        t.filter(t.n < 3).to_pyarrow()
        t.execute()
        assert t.n.sum().to_pyarrow().as_py() == 21  # an aggregate: one row
        assert eng.meter == {"sent": 7, "collected": 5 + 3 + 7 + 1}


# -- Engine.map_into: a model step's rows straight into store tables -----------------------
def _split(batch: pa.RecordBatch) -> pa.Table:
    ids = batch["id"].to_pylist()
    return pa.table({"id": ids, "even": [i % 2 == 0 for i in ids], "text": [f"t{i}" for i in ids]})


_SPLIT = pa.schema([("id", pa.int64()), ("even", pa.bool_()), ("text", pa.string())])


def _mapped_into(store: Store, eng: Any) -> tuple[list[Any], list[Any], int]:
    store.con.execute("create table a (id bigint, text varchar)")
    store.con.execute("create table b (even boolean, id bigint)")
    store.con.execute("insert into a values (-1, 'kept'), (7000, 'replaced')")
    store.con.execute("insert into b values (true, -1), (false, 7000)")
    for t in ("a", "b"):
        eng.invalidate(t)
    src = eng.from_arrow(pa.table({"id": list(range(5000))}), "ids")
    kept = eng.map_into(src, _split, _SPLIT, {"a": ["id", "text"], "b": ["id", "even"]},
                        keep=["even"], where="id >= 0", name="split")  # fmt: skip
    evens = eng.count(kept.filter(kept.even))
    a = store.con.execute("select count(*), min(id), max(text) from a").fetchall()
    b = store.con.execute("select count(*), count(*) filter (where even) from b").fetchall()
    return a, b, evens


def test_a_model_steps_rows_go_into_two_tables_replacing_the_matching_rows() -> None:
    with Store(":memory:") as store, connect(store) as eng:
        a, b, evens = _mapped_into(store, eng)
    assert a == [(5001, -1, "t999")] and b == [(5001, 2501)] and evens == 2500


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_a_model_steps_rows_go_into_tables_on_spark_too(spark_session: Any) -> None:
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        a, b, evens = _mapped_into(store, eng)
    assert a == [(5001, -1, "t999")] and b == [(5001, 2501)] and evens == 2500


@pytest.mark.spark
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_spark_broadcasts_a_join_side_only_when_it_measured_it_small(spark_session: Any) -> None:
    """The 100k world failed on a cluster when Spark's planner guessed a table small from its
    compressed files and broadcast it through a 1 GiB driver: the guess is off, the measured
    size decides (adaptive execution), and a small side is still broadcast."""
    conf = spark_session.conf
    assert conf.get("spark.sql.autoBroadcastJoinThreshold") == "-1"
    assert conf.get("spark.sql.adaptive.enabled") == "true"
    big, small = spark_session.range(20_000), spark_session.range(10)
    joined = big.join(small, "id")
    assert joined.count() == 10
    planned = joined._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" not in joined._jdf.queryExecution().sparkPlan().toString()
    joined.collect()
    assert "BroadcastHashJoin" in joined._jdf.queryExecution().executedPlan().toString(), planned


# -- Engine.fit: a model that needs every row at once, fitted where the rows are -----------
def _mean_model(rows: pa.Table) -> tuple[Any, dict[str, Any]]:
    """A 'model' (the rows' values, sorted, and their mean) and its summary."""
    values = sorted(rows["n"].to_pylist())
    if not values:
        return None, {"rows": 0}
    return {"values": values, "mean": sum(values) / len(values)}, {"rows": len(values)}


def _scored(fitted: Any, batch: pa.RecordBatch) -> pa.Table:
    """A model step using the fitted model where it runs: each row's distance to the mean,
    and how many values the model holds."""
    model = fitted.get()
    ns = batch["n"].to_pylist()
    return pa.table({"n": ns, "d": [n - model["mean"] for n in ns],
                     "held": [len(model["values"])] * len(ns)})  # fmt: skip


_SCORED = pa.schema([("n", pa.int64()), ("d", pa.float64()), ("held", pa.int64())])


def _fit_and_score(eng: Any) -> tuple[dict[str, Any], list[Any], Any]:
    t = eng.from_arrow(pa.table({"n": list(range(5000))}), "numbers")
    fitted, summary = eng.fit(t.filter(t.n % 2 == 0), _mean_model)
    from functools import partial

    out = eng.map_batches(t.filter(t.n < 3), partial(_scored, fitted), _SCORED)
    rows = sorted(eng.to_arrow(out).to_pylist(), key=lambda r: r["n"])
    none, empty = eng.fit(t.filter(t.n < 0), _mean_model)
    assert none is None and empty == {"rows": 0}  # nothing to fit on: no model
    return summary, rows, fitted


def test_a_fit_runs_in_process_on_duckdb() -> None:
    with Store(":memory:") as store, connect(store) as eng:
        summary, rows, fitted = _fit_and_score(eng)
    assert summary == {"rows": 2500} and fitted.path is None
    assert rows[1] == {"n": 1, "d": 1 - 2499.0, "held": 2500}


@pytest.mark.spark
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_a_fit_on_spark_runs_on_an_executor_and_only_its_summary_reaches_the_driver(
    spark_session: Any,
) -> None:
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        eng.meter.clear()
        summary, rows, fitted = _fit_and_score(eng)
        # the 2,500 rows were fitted on an executor: the driver got one row per fit, and the
        # 3 scored rows it asked for; the model reached the scoring step from its file
        assert eng.meter == {"collected": 1 + 3 + 1, "sent": 5000}
        assert fitted.path is not None and os.path.exists(fitted.path)
    assert summary == {"rows": 2500}
    assert rows[1] == {"n": 1, "d": 1 - 2499.0, "held": 2500}
    assert not os.path.exists(fitted.path)  # the engine's model files go with it


@settings(deadline=None)  # the first example starts DuckDB
@given(st.lists(st.tuples(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                          st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)),
                min_size=1, max_size=20))  # fmt: skip
def test_spark_jaro_winkler_is_duckdbs(pairs: list[tuple[str, str]]) -> None:
    """Spark's Jaro–Winkler (the UDF Splink's comparisons call there) scores every pair of
    strings — Polish, Cyrillic, Persian, empty — as DuckDB's does, so a pair of names falls into
    the same level of the matching model on both engines."""
    con = duckdb.connect()
    con.register("p", pa.table({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]}))
    duck = [r[0] for r in con.execute("select jaro_winkler_similarity(a, b) from p").fetchall()]
    ours = jaro_winkler(pa.array([a for a, _ in pairs]), pa.array([b for _, b in pairs]))
    assert ours.to_pylist() == duck  # DuckDB's own function, in the step's process
    assert jaro_winkler(pa.array(["anna", None]), pa.array([None, "x"])).null_count == 2


@settings(deadline=None)
@given(st.lists(st.tuples(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                          st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)),
                min_size=1, max_size=20))  # fmt: skip
def test_spark_levenshtein_is_duckdbs(pairs: list[tuple[str, str]]) -> None:
    """Spark's Levenshtein (what Splink's postal code, e-mail, phone and date comparisons call
    there) counts the edits DuckDB counts for every pair — non-ASCII too, where Spark's own
    counts characters and DuckDB's bytes."""
    con = duckdb.connect()
    con.register("p", pa.table({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]}))
    duck = [r[0] for r in con.execute("select levenshtein(a, b) from p").fetchall()]
    assert levenshtein(pa.array([a for a, _ in pairs]), pa.array([b for _, b in pairs])).to_pylist() == duck
    assert levenshtein(pa.array(["anna", None]), pa.array([None, "x"])).null_count == 2


@pytest.mark.spark
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_a_local_spark_session_writes_the_one_file_store_without_collecting(
    spark_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`empatia run --engine spark` on the 100k demo world died with "Java heap space":
    identity's 4.7 million identifiers were collected through the driver's JVM to be written
    into the store file. A local session's executors write files that DuckDB inserts."""
    from datetime import datetime
    from decimal import Decimal

    rows = pa.table({"id": [1, 2, 3], "seen": [datetime(2025, 3, 1, 12, 30), None, datetime(2026, 1, 2)],
                     "amount": pa.array([Decimal("12.50"), Decimal("-3.10"), None], pa.decimal128(12, 2)),
                     "name": ["Łucja", None, "Иван"]})  # fmt: skip
    with Store(":memory:") as store, connect(store, "spark", session=spark_session) as eng:
        store.con.execute("create table t_rows (name varchar, id bigint, seen timestamp,"
                          " amount decimal(12, 2))")  # fmt: skip
        t = eng.from_arrow(rows, "rows")

        def no_collect(*_: Any, **__: Any) -> None:
            raise AssertionError("rows collected through the driver")

        monkeypatch.setattr(eng.con, "to_pyarrow", no_collect)
        assert eng.write(t, "t_rows") == 3
        got = store.con.execute("select id, seen, amount, name from t_rows order by id").fetchall()
        assert got == [tuple(r.values()) for r in rows.to_pylist()]
        assert eng.write(t.filter(t.id > 5), "t_rows") == 0  # nothing: the table emptied
        assert eng.write(t.filter(t.id > 1), "t_rows", replace=False) == 2
        assert store.con.execute("select count(*) from t_rows").fetchall() == [(2,)]
        monkeypatch.undo()
        # read back as a local session reads the store (a file), in the types Arrow gives
        back = eng.table("t_rows").select(*t.columns)
        assert back.schema() == t.schema()
        assert eng.to_arrow(back.order_by("id")) == eng.to_arrow(t.filter(t.id > 1).order_by("id"))


#: JSON documents as events carry them: nested objects, any leaf type, keys sometimes missing.
_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                  st.floats(allow_nan=False, allow_infinity=False, width=32),
                  st.text(max_size=6), st.lists(st.integers(0, 9), max_size=2))  # fmt: skip
_DOC = st.recursive(_LEAF, lambda kids: st.dictionaries(st.sampled_from("abc"), kids, max_size=3),
                    max_leaves=8)  # fmt: skip


@pytest.mark.spark
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
@settings(deadline=None, max_examples=15)
@given(st.lists(_DOC, min_size=1, max_size=12))
def test_spark_reads_many_paths_of_a_document_as_one_path_at_a_time(
    spark_session: Any, docs: list[Any]
) -> None:
    """Spark reads several paths of each event's JSON in one parse (identity's 14 identifier
    paths: 3× faster on the 100k world's events); every value is the one reading each path
    alone gives — a number printed, an object or list as JSON, a string where an object was
    expected read as absent."""
    import json

    paths = ["$.a", "$.b.a", "$.b.b", "$.b.c.a", "$.c.c.c", "$.a.b"]
    raw = [json.dumps(d) for d in docs]
    with Store(":memory:") as store:
        eng = connect(store, "spark", session=spark_session)
        t = eng.from_arrow(pa.table({"i": list(range(len(raw))), "raw": raw}), "docs")
        together = eng.json_strs(t.raw, paths)
        alone = [eng.json_str(t.raw, p) for p in paths]
        cols = {f"t{k}": v for k, v in enumerate(together)} | {f"a{k}": v for k, v in enumerate(alone)}
        rows = eng.to_arrow(t.select("i", **cols)).to_pylist()
        eng.close()
    for r in rows:
        assert [r[f"t{k}"] for k in range(len(paths))] == [r[f"a{k}"] for k in range(len(paths))], raw[r["i"]]
