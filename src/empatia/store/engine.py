"""Where the batch pipeline runs: DuckDB (default) or Apache Spark — the one place they differ.

Stages write their logic as Ibis expressions over :meth:`Engine.table` and hand results to
:meth:`Engine.write`; they never ask which engine they are on. On Spark, a lake store's
tables (``[store] kind = "lake"``, :mod:`empatia.store.lake`) are read and written by the
executors, and Python model steps and fits run there too; a one-file store's tables are copied
into the session through the driver, and its results copied back.

>>> from empatia.store import Store
>>> with Store(":memory:") as s:
...     eng = connect(s)
...     eng.table("events").count().to_pyarrow().as_py()
0
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.dataset as pads

from empatia.errors import ConfigError, MissingExtraError
from empatia.store.scoped import StageStore, SettlingCursor
from empatia.store.store import transaction

if TYPE_CHECKING:
    from empatia.settings import SparkSettings
    from empatia.store.lake import Lake
    from empatia.store import Store

ENGINES = ("duckdb", "spark")

#: A Python model step over Arrow record batches (:meth:`Engine.map_batches`).
BatchFn = Callable[[pa.RecordBatch], "pa.RecordBatch | pa.Table"]
#: Rows per batch a model step gets.
BATCH_ROWS = 2048
#: A model fit (:meth:`Engine.fit`): every row at once → the model (or ``None``) and a small
#: summary of it.
FitFn = Callable[[pa.Table], "tuple[Any, dict[str, Any]]"]


@dataclass(frozen=True)
class FittedModel:
    """A fitted model where an engine's model steps find it (:meth:`Engine.fit`): held here
    (``model``) or pickled to a file every worker reads (``path``, loaded once per process).
    Small to ship either way: a step gets the handle, :meth:`get` gives the model."""

    model: Any = None
    path: str | None = None

    def get(self) -> Any:
        return self.model if self.path is None else _load_model(self.path)


@lru_cache(maxsize=2)
def _load_model(path: str) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)  # noqa: S301 - a file this run's own fit wrote


def conform(out: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.Table:
    """What a model step returned, as a table of exactly ``schema`` (columns by name)."""
    table = pa.Table.from_batches([out]) if isinstance(out, pa.RecordBatch) else out
    return table.select(schema.names).cast(schema)


_DUCK_TYPES = {pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.int64(): "BIGINT",
               pa.bool_(): "BOOLEAN"}  # fmt: skip


def _explode_sql(source: str, column: str, fields: pa.Schema) -> str:
    """DuckDB: each row of ``source`` once per element of the JSON list in ``column``."""
    shape = "[{" + ",".join(f'"{f.name}":"{_DUCK_TYPES[f.type]}"' for f in fields) + "}]"
    return (f'select * exclude (_emp_l, "{column}"), unnest(range(len(_emp_l))) as pos,'
            f" unnest(_emp_l, recursive := true)"
            f" from (select *, try(from_json(\"{column}\", '{shape}')) as _emp_l from {source})")  # fmt: skip


@cache
def _json_reader() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB of this process for the model steps that use DuckDB as a library
    (:func:`json_list_rows`, the string similarities; made once: a connection costs about
    10 ms, a cursor on it nothing)."""
    con = duckdb.connect()
    con.execute("set global TimeZone = 'UTC'")
    return con


def json_list_rows(batch: pa.RecordBatch, column: str, fields: pa.Schema) -> pa.Table:
    """A model step (:meth:`Engine.explode_json`'s): each row once per element of the JSON
    list in ``column``, read with DuckDB as a library, in memory, wherever the step runs."""
    with _json_reader().cursor() as con:
        con.register("_emp_src", pa.Table.from_batches([batch]))
        return con.sql(_explode_sql("_emp_src", column, fields)).to_arrow_table()


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duck_json_str(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB: the value at ``path`` as text (strings unquoted, numbers printed)."""


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duck_json_strs(doc: str, paths: dt.Array[dt.String]) -> dt.Array[dt.String]:  # type: ignore[empty-body]
    """DuckDB: the values at each of ``paths`` as text, the document parsed once."""


#: A JSON path of plain keys (``$.context.traits.email``), read with Spark's ``from_json``.
_PLAIN_PATH = re.compile(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)+")
#: From this many paths of a document on, Spark parses it once (``from_json``); fewer are read
#: one path at a time (``get_json_object``, no struct to build).
_FROM_JSON_PATHS = 4


@ibis.udf.scalar.builtin(name="get_json_object")
def _spark_json_str(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark: the value at ``path`` as text (strings unquoted, numbers printed)."""


class Engine:
    """An Ibis backend plus the few operations whose spelling differs per engine."""

    name: str = ""
    #: Whether a stage may rebuild only the changed people's rows in place (DuckDB, where the
    #: tables live); elsewhere stages rebuild whole tables.
    incremental: bool = False

    def __init__(self, store: Store, con: ibis.BaseBackend) -> None:
        self.store = store
        self.con = con
        self._temps: list[str] = []

    # -- reading ------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """A table of the store, as an Ibis table on this engine."""
        raise NotImplementedError

    def from_arrow(self, data: pa.Table | Any, name: str | None = None) -> ir.Table:
        """Local data (Arrow or pandas) as a table on this engine."""
        raise NotImplementedError

    def json_str(self, doc: ir.StringValue, path: str) -> ir.StringValue:
        """The JSON value at ``path`` (``$.a.b``) of a text column, as text; NULL if absent."""
        raise NotImplementedError

    def json_strs(self, doc: ir.StringValue, paths: Sequence[str]) -> list[ir.StringValue]:
        """:meth:`json_str` of each of ``paths``, the document read once where the engine
        can (DuckDB: one ``json_extract_string`` with a list of paths)."""
        return [self.json_str(doc, p) for p in paths]

    def has(self, name: str) -> bool:
        """Whether the store holds a table (or view) ``name`` (an optional stage's output)."""
        return self.store.table_exists(name)

    def count(self, expr: ir.Table) -> int:
        """How many rows ``expr`` has, counted where the engine runs."""
        return int(self.to_arrow(expr.aggregate(n=expr.count()))["n"][0].as_py())

    # -- materialising ------------------------------------------------------------------
    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        """Compute ``expr`` now and return it as a table (cuts long lineages in loops)."""
        raise NotImplementedError

    def drop_temp(self, table: ir.Table) -> None:
        """Forget a table made by :meth:`materialize` (frees memory in long loops)."""

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        return expr.to_pyarrow()

    # -- Python model steps ---------------------------------------------------------------
    def fit(self, expr: ir.Table, fn: FitFn) -> tuple[FittedModel | None, dict[str, Any]]:
        """A Python model step that needs every row of ``expr`` at once (fitting a model):
        ``fn`` gets them as one Arrow table, in no particular order (it sorts them), and
        returns the model (or ``None``) and a small summary of it. Returns the model's handle
        (``None`` for none), for the model steps that use it, and the summary.

        ``fn`` must be picklable, as for :meth:`map_batches`. Here: in this process. On Spark:
        in one Python worker on an executor, the rows gathered there by the executors; the
        model goes to a file the executors read, and only the summary comes to the driver.
        """
        model, summary = fn(self.to_arrow(expr))
        return (None if model is None else FittedModel(model)), summary

    def map_batches(self, expr: ir.Table, fn: BatchFn, schema: pa.Schema,
                    name: str | None = None) -> ir.Table:  # fmt: skip
        """A Python model step: ``fn`` applied to the rows of ``expr`` in Arrow record
        batches, where the rows are — in this process on DuckDB, in Spark's Python workers
        on the executors (``mapInArrow``), never through the driver — as a table of
        ``schema``.

        ``fn`` takes a batch and returns the rows it makes of it (any number, as a record
        batch or a table with ``schema``'s columns). It must be pure and picklable (a
        module-level function, or a :func:`functools.partial` of one): a model it needs is
        loaded once per process, not shipped.
        """
        raise NotImplementedError

    def explode_json(self, expr: ir.Table, column: str, fields: pa.Schema,
                     name: str | None = None) -> ir.Table:  # fmt: skip
        """Each row of ``expr`` once per element of the JSON list (text) in ``column``: the
        other columns, ``pos`` (the element's place, from 0) and the element's ``fields``
        (text, double, bigint or boolean). A document that is no list, or no JSON, gives no
        row; an element that is no object gives nulls; a value of another type is converted
        where it can be (a price written as text), else null — as DuckDB's ``from_json``
        reads it, on every engine.

        Here: a model step that reads the JSON with DuckDB as a library
        (:func:`json_list_rows`); the DuckDB engine does it in its own SQL."""
        out = expr.schema().to_pyarrow()
        out = out.remove(out.get_field_index(column)).append(pa.field("pos", pa.int64()))
        for f in fields:
            out = out.append(f)
        step = partial(json_list_rows, column=column, fields=fields)
        return self.map_batches(expr, step, out, name)

    def map_into(self, expr: ir.Table, fn: BatchFn, schema: pa.Schema,
                 into: Mapping[str, Sequence[str]], *, keep: Sequence[str],
                 where: str | None = None, name: str | None = None) -> ir.Table:  # fmt: skip
        """A model step (:meth:`map_batches`) whose rows go straight into store tables: each
        table of ``into`` gets those columns of them, replacing the table (or its rows
        matching the SQL ``where``). Returns the ``keep`` columns of the rows, as a table on
        this engine (for figures).

        Here: the rows as a table, then a write per table; the DuckDB engine writes each batch
        as the step makes it, so the rows are never held twice."""
        rows = self.map_batches(expr, fn, schema, name)
        try:
            for table, columns in into.items():
                self.write(rows.select(*columns), table, where=where)
            return self.materialize(rows.select(*keep), name)
        finally:
            self.drop_temp(rows)

    def splink_api(self) -> Any:
        """The Splink database API for probabilistic matching on this engine."""
        return splink_duckdb_api()

    def splink_frame(self, expr: ir.Table) -> Any:
        """``expr`` as Splink's backend (:meth:`splink_api`) takes a table: in this process on
        DuckDB (its own database), a DataFrame of the session on Spark."""
        return self.to_arrow(expr).to_pandas()

    def splink_table(self, result: Any) -> ir.Table:
        """A table Splink made (a ``SplinkDataFrame``) as a table of this engine."""
        # Arrow, not pandas: a column with no value (a block key no pair used) keeps its type
        return self.from_arrow(result.as_pyarrow_table(), result.templated_name)

    @contextmanager
    def store_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the store for a stage's bookkeeping (changed-people marks, state rows),
        closed after the block. On DuckDB it is the engine's own session, so temporary tables
        made there (the changed people) are tables of this engine too."""
        with self.store.read() as cur:
            yield cur

    # -- writing to the store -----------------------------------------------------------
    def write(
        self, expr: ir.Table, table: str, *, replace: bool = True, where: str | None = None
    ) -> int:
        """Write ``expr`` into the store table ``table`` (columns matched by name).

        ``replace`` empties the table first (or only its rows matching the SQL ``where``).
        Returns the number of rows written.
        """
        if self.in_lake(table):
            return self._lake_write(expr, table, replace=replace, where=where)
        return self.write_arrow(self.to_arrow(expr), table, replace=replace, where=where)

    def write_arrow(
        self, data: pa.Table, table: str, *, replace: bool = True, where: str | None = None
    ) -> int:
        """Write local Arrow data into the store table ``table``."""
        if self.in_lake(table):
            return self._lake_write(self.from_arrow(data), table, replace=replace, where=where)
        n = write_arrow(self.store, data, table, replace=replace, where=where)
        self.invalidate(table)
        return n

    # -- the lake (store.kind = "lake": empatia.store.lake) -------------------------------
    @property
    def lake(self) -> Lake:
        """The store's lake (an error on a store without one)."""
        lake = getattr(self.store, "lake", None)
        if lake is None:
            raise ConfigError('this store has no lake (store.kind = "lake")')
        return lake  # type: ignore[no-any-return]

    def in_lake(self, table: str) -> bool:
        """Whether the store table ``table`` lives in the lake."""
        is_lake = getattr(self.store, "is_lake", None)
        return bool(is_lake and is_lake(table))

    @contextmanager
    def _pin_cursor(self) -> Iterator[Any]:
        """A cursor on the store, unchecked, in the stage's transaction when there is one."""
        if isinstance(self.store, StageStore):
            yield self.store.raw
        else:
            with self.store.write() as cur:
                yield cur

    def _memo_cursor(self) -> AbstractContextManager[Any]:
        """A cursor for a memo: a transaction of its own beside a stage's (kept if the stage
        fails), the store's, or the caller's connection."""
        memo = getattr(self.store, "memo", None)
        if memo is not None:
            return memo()  # type: ignore[no-any-return]
        write = getattr(self.store, "write", None)
        return write() if write is not None else nullcontext(self.store)

    def _lake_write(self, expr: ir.Table, table: str, *, replace: bool, where: str | None) -> int:
        """A new version of the lake table ``table``: ``expr``'s rows in its declared columns
        (with the rows kept: all when not ``replace``, those not matching ``where``), written
        where the engine runs; then the store's view moves to it, in the stage's transaction."""
        from empatia.store import lake as lk

        if isinstance(self.store, StageStore):
            self.store.check(f"insert into {table} select 1")
        with self._pin_cursor() as cur:
            lk.require_primary(cur, self.lake, f"writing the lake's {table}")  # not a node's
            cols = lk.declared(cur, table)
        rows = _declared(expr, cols)
        if not replace or where:
            kept = self.table(table)
            if where:
                kept = self._unless(kept, where)
            rows = union(_declared(kept, cols), rows)
        n = self._lake_put(rows, table)
        with self._pin_cursor() as cur:
            lk.pin(cur, self.lake, table, self.lake.version(table))
        self.invalidate(table)
        return n

    def _unless(self, table: ir.Table, where: str) -> ir.Table:
        """The rows of ``table`` (a table or view by name) not matching ``where`` (DuckDB SQL)."""
        return self.con.sql(f"select * from {table.get_name()} where not coalesce(({where}), false)",
                            dialect="duckdb")  # fmt: skip

    def _lake_put(self, rows: ir.Table, table: str, *, append: bool = False) -> int:
        """Replace the lake table's rows with ``rows`` (or add them, ``append``); how many
        they are."""
        raise NotImplementedError

    def memo(self, rows: ir.Table, table: str) -> None:
        """Keep the rows of a pure model step's memo ``table`` (emotion's ``text_cache``) at
        once, in a transaction of their own, so a run cut off half-way keeps what the model
        computed: in a lake, added to it where the engine runs (the store's view moves to the
        new version), else written into the store's file (a row with a key already there
        replaces it)."""
        from empatia.store import lake as lk

        if self.in_lake(table):
            with self._pin_cursor() as cur:
                cols = lk.declared(cur, table)
            if self._lake_put(_declared(rows, cols), table, append=True):
                with self._memo_cursor() as cur:
                    lk.pin(cur, self.lake, table, self.lake.version(table))
            return
        data = self.to_arrow(rows)
        if not data.num_rows:
            return
        with self._memo_cursor() as cur:
            cur.register("_emp_memo", data)
            try:
                cur.execute(f"insert or replace into {table} by name select * from _emp_memo")
            finally:
                cur.unregister("_emp_memo")

    def update(self, table: str, rows: ir.Table, key: str) -> None:
        """Set, on the rows of the store table ``table`` whose ``key`` equals a row of
        ``rows``, the other columns of ``rows`` (one row of ``rows`` per key). Columns
        ``rows`` does not name keep their values; rows it does not match are left alone.

        Here: the table is read, joined and written whole; the DuckDB engine updates in place."""
        cols = [c for c in rows.columns if c != key]
        t = self.table(table)
        j = t.left_join(rows.mutate(_emp_hit=ibis.literal(True)), key, rname="{name}_new")
        out = j.select(*(ibis.ifelse(j._emp_hit.notnull(), j[f"{c}_new"], j[c]).name(c)
                         if c in cols else j[c] for c in t.columns))  # fmt: skip
        done = self.materialize(out, "update")  # it replaces the table it was read from
        try:
            self.write(done, table)
        finally:
            self.drop_temp(done)

    def transaction(self) -> AbstractContextManager[Any]:
        """Several writes as one: inside a stage they join its transaction anyway; on the
        store's DuckDB outside one, they commit together or not at all."""
        return nullcontext()

    def delete(self, table: str, keys: ir.Table, on: Sequence[str]) -> int:
        """Delete the rows of the store table ``table`` whose ``on`` columns equal a row of
        ``keys`` (an erasure, a retention pass); returns how many went. The keys are
        computed where the engine runs; the delete is the store's (the lake's: the table
        rewritten without them)."""
        if self.in_lake(table):
            t = self.table(table)
            kept = t.anti_join(keys.select(*on).distinct(), list(on))
            before = self.count(t)
            return before - self.write(kept, table)
        data = self.to_arrow(keys.select(*on).distinct())
        if not data.num_rows:
            return 0
        with self.store.write() as cur:
            cur.register("_emp_keys", data)
            try:
                n = _delete(cur, table, "_emp_keys", on)
            finally:
                cur.unregister("_emp_keys")
        self.invalidate(table)
        return n

    def invalidate(self, table: str) -> None:
        """Forget any copy of a store table this engine holds (it was just written)."""

    def close(self) -> None:
        for name in list(self._temps):
            self._drop(name)
        self._temps.clear()

    def _drop(self, name: str) -> None:
        """Drop a temporary table this engine made."""
        self.con.drop_table(name, force=True)

    def _temp_name(self, name: str | None) -> str:
        return f"_emp_{name or 'tmp'}_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _declared(expr: ir.Table, cols: Sequence[tuple[str, str]]) -> ir.Table:
    """``expr`` in a lake table's declared columns (DuckDB types; JSON, and a map or list an
    engine made as text, as text: the store's view casts it back), a column ``expr`` lacks as
    nulls."""
    from ibis.backends.sql.datatypes import DuckDBType

    out, have = [], expr.schema()
    for name, duck in cols:
        dtype = DuckDBType.from_string(duck)
        if dtype.is_json() or dtype.is_nested() and name in have and have[name].is_string():
            dtype = dt.string  # as text, which the view reads back (Spark: a map as text)
        out.append(expr[name].cast(dtype).name(name) if name in expr.columns
                   else ibis.null(dtype).name(name))  # fmt: skip
    return expr.select(*out)


def splink_duckdb_api() -> Any:
    """Splink's DuckDB backend on a private in-memory database, without progress bars."""
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    return DuckDBAPI(con)


def _delete(cur: Any, table: str, keys: str, on: Sequence[str]) -> int:
    match = " and ".join(f'd."{c}" = k."{c}"' for c in on)
    rows = cur.execute(f'delete from "{table}" d using {keys} k where {match}').fetchall()
    return int(rows[0][0]) if rows else 0


def write_arrow(
    store: Store, data: pa.Table | pads.Dataset, table: str, *, replace: bool = True,
    where: str | None = None,
) -> int:
    """Insert an Arrow table (or dataset: its files read as DuckDB inserts) into a store table
    by column name, in one transaction (the stage's own when ``store`` is a stage's view of
    it)."""
    with store.write() as cur:
        cur.register("_emp_incoming", data)
        try:
            if replace:
                cur.execute(f"delete from {table}" + (f" where {where}" if where else ""))
            cur.execute(f"insert into {table} by name select * from _emp_incoming")
        finally:
            cur.unregister("_emp_incoming")
    return data.num_rows if isinstance(data, pa.Table) else data.count_rows()


class DuckDBEngine(Engine):
    """Runs everything inside the store's own DuckDB database, on a cursor of its connection."""

    name = "duckdb"
    incremental = True

    def __init__(self, store: Store | StageStore | duckdb.DuckDBPyConnection) -> None:
        # Inside a stage: its transaction's cursor, so what the engine writes is the stage's
        # outputs, committed with them. On a caller's connection: that connection (its
        # temporary tables, its transaction). Otherwise a cursor of its own (own session
        # settings: Ibis sets UTC), on the same database.
        self._stage = isinstance(store, StageStore)
        self._in_tx = False
        self._owned = not (self._stage or isinstance(store, duckdb.DuckDBPyConnection))
        if isinstance(store, StageStore):
            self._cur = store.raw
        elif isinstance(store, duckdb.DuckDBPyConnection):
            self._cur = SettlingCursor(store)
        else:
            self._cur = store.con.cursor()
        super().__init__(store, ibis.duckdb.from_connection(self._cur))  # type: ignore[arg-type]
        self._tables: dict[str, ir.Table] = {}
        # in the lake, stages rebuild whole tables: a version per table, not rows in place
        self.incremental = getattr(store, "lake", None) is None

    def table(self, name: str) -> ir.Table:
        # Ibis asks DuckDB for the schema each time (a query): keep the table per name
        if name not in self._tables:
            self._tables[name] = self.con.table(name)
        return self._tables[name]

    def invalidate(self, table: str) -> None:
        self._tables.pop(table, None)

    @contextmanager
    def store_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # in a stage: its transaction (checked); temporary tables are this session's either way
        yield self.store if self._stage else self._cur  # type: ignore[misc]

    def from_arrow(self, data: pa.Table | Any, name: str | None = None) -> ir.Table:
        return self.materialize(ibis.memtable(data), name)

    def json_str(self, doc: ir.StringValue, path: str) -> ir.StringValue:
        return _duck_json_str(doc, path)

    def json_strs(self, doc: ir.StringValue, paths: Sequence[str]) -> list[ir.StringValue]:
        if len(paths) < 2:
            return [self.json_str(doc, p) for p in paths]
        values = _duck_json_strs(doc, ibis.literal(list(paths), type="array<string>"))
        return [values[i] for i in range(len(paths))]  # one parse: DuckDB shares the call

    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        tmp = self._temp_name(name)
        self._temps.append(tmp)
        return self.con.create_table(tmp, expr, temp=True)

    def drop_temp(self, table: ir.Table) -> None:
        name = table.get_name()
        if name in self._temps:
            self._temps.remove(name)
            self._drop(name)

    def map_batches(self, expr: ir.Table, fn: BatchFn, schema: pa.Schema,
                    name: str | None = None) -> ir.Table:  # fmt: skip
        return self.map_into(expr, fn, schema, {}, keep=schema.names, name=name)

    def explode_json(self, expr: ir.Table, column: str, fields: pa.Schema,
                     name: str | None = None) -> ir.Table:  # fmt: skip
        # Same database: one statement, no round trip through this process.
        tmp = self._temp_name(name)
        sql = _explode_sql(f"({self.con.compile(expr)})", column, fields)
        self._cur.execute(f'create temp table "{tmp}" as {sql}')
        self._temps.append(tmp)
        return self.con.table(tmp)

    def map_into(self, expr: ir.Table, fn: BatchFn, schema: pa.Schema,
                 into: Mapping[str, Sequence[str]], *, keep: Sequence[str],
                 where: str | None = None, name: str | None = None) -> ir.Table:  # fmt: skip
        if any(self.in_lake(t) for t in into):  # a version per table: the rows, then writes
            return super().map_into(expr, fn, schema, into, keep=keep, where=where, name=name)
        # The rows are in this process already; the stage's cursor cannot stream one
        # result while it writes another, so read them first (in full batches: DuckDB's
        # chunks are small). What the step makes goes to its tables batch by batch, never all
        # of it in this process at once.
        data = self.to_arrow(expr).combine_chunks()
        if isinstance(self.store, StageStore):  # the stage's transaction: check, then join it
            for table in into:
                self.store.check(f"insert into {table} select 1")
        tmp, cur = self._temp_name(name), self._cur
        cols = {t: ", ".join(f'"{c}"' for c in columns) for t, columns in into.items()}
        kept = ", ".join(f'"{c}"' for c in keep)
        with self.transaction():
            for table in into:
                cur.execute(f"delete from {table}" + (f" where {where}" if where else ""))
            cur.register("_emp_batch", pa.schema([schema.field(c) for c in keep]).empty_table())
            try:
                cur.execute(f'create temp table "{tmp}" as select * from _emp_batch')
                self._temps.append(tmp)
                for b in data.to_batches(max_chunksize=BATCH_ROWS):
                    cur.register("_emp_batch", conform(fn(b), schema))
                    for table in into:
                        cur.execute(f"insert into {table} by name select {cols[table]} from _emp_batch")
                    cur.execute(f'insert into "{tmp}" select {kept} from _emp_batch')
            finally:
                cur.unregister("_emp_batch")
        return self.con.table(tmp)

    def _unless(self, table: ir.Table, where: str) -> ir.Table:
        # a temporary view on ibis's own connection: ibis's ``sql`` asks DuckDB 2 for a method
        # it no longer has (``fetch_arrow_table``)
        name = f"_unless_{table.get_name()}"  # one per table, replaced: a server runs often
        self.con.raw_sql(f"create or replace temp view {name} as select * from {table.get_name()}"
                         f" where not coalesce(({where}), false)")  # fmt: skip
        return self.con.table(name)

    def _lake_put(self, rows: ir.Table, table: str, *, append: bool = False) -> int:
        # DuckDB streams the rows into the lake's files in Arrow batches: never all at once
        from empatia.store.lake import BATCH

        reader = self._cur.sql(self.con.compile(rows)).to_arrow_reader(BATCH)
        return self.lake.write(table, reader, append=append)

    def _drop(self, name: str) -> None:
        # Ibis's drop_table spells it in a way DuckDB 2 refuses for a temporary table.
        self._cur.execute(f'drop table if exists temp."{name}"')

    def write(
        self, expr: ir.Table, table: str, *, replace: bool = True, where: str | None = None
    ) -> int:
        if self.in_lake(table):
            return self._lake_write(expr, table, replace=replace, where=where)
        # Same database: let DuckDB move the rows without a round trip through Arrow.
        sql = self.con.compile(expr)
        cur = self._cur  # the session holding this engine's temporary tables
        if isinstance(self.store, StageStore):  # the stage's transaction: check, then join it
            self.store.check(f"insert into {table} select 1")
        with self.transaction():
            if replace:
                cur.execute(f"delete from {table}" + (f" where {where}" if where else ""))
            row = cur.execute(f"insert into {table} by name {sql}").fetchone()
        return int(row[0]) if row else 0

    def update(self, table: str, rows: ir.Table, key: str) -> None:
        if self.in_lake(table):
            return super().update(table, rows, key)
        # Same database: one UPDATE … FROM, columns written in place.
        cols = [c for c in rows.columns if c != key]
        sets = ", ".join(f'"{c}" = _u."{c}"' for c in cols)
        sql = (f'update {table} as _t set {sets} from ({self.con.compile(rows)}) as _u'
               f' where _t."{key}" = _u."{key}"')  # fmt: skip
        if isinstance(self.store, StageStore):
            self.store.check(f"update {table} set {key} = {key}")
        with self.transaction():
            self._cur.execute(sql)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._stage or self._in_tx:  # the stage's, or an enclosing one of this engine
            yield
            return
        self._in_tx = True
        try:
            with transaction(self._cur):
                yield
        finally:
            self._in_tx = False

    def has(self, name: str) -> bool:
        # on this engine's session: a caller's connection sees its temporary tables too
        rows = self._cur.execute(
            "select count(*) from information_schema.tables where table_name = ?", [name]
        ).fetchall()
        return bool(rows and rows[0][0])

    def delete(self, table: str, keys: ir.Table, on: Sequence[str]) -> int:
        if self.in_lake(table):
            return super().delete(table, keys, on)
        # Same database: the keys are a subquery of the delete.
        if isinstance(self.store, StageStore):
            self.store.check(f"delete from {table}")
        sql = f"({self.con.compile(keys.select(*on).distinct())})"
        return _delete(self._cur, table, sql, on)

    def close(self) -> None:
        super().close()
        if self._owned:  # a stage's cursor is closed when its transaction ends
            self._cur.close()


class SparkEngine(Engine):
    """Runs on a Spark session: a lake's tables read and written by the executors, a one-file
    store's copied in and back (as Parquet files for a local session, else through the
    driver)."""

    name = "spark"

    def __init__(self, store: Store, session: Any) -> None:
        self.session = session
        super().__init__(store, ibis.pyspark.connect(session))
        self._loaded: dict[str, str] = {}
        #: Rows that crossed the driver: ``collected`` (results brought into this process)
        #: and ``sent`` (rows this process sent to the executors: store tables not in the
        #: lake, local data).
        self.meter: Counter[str] = Counter()
        self._depth = 0
        self._made: list[str] = []
        self._scratch: str | None = None  # the store's tables as files, for a local session
        #: The executors see this machine's files (a local master, not Spark Connect).
        self._local = "connect" not in type(session).__module__ and str(
            session.sparkContext.master).startswith("local")  # fmt: skip
        for method in ("to_pyarrow", "execute"):  # every way a stage brings rows here
            setattr(self.con, method, partial(self._metered, getattr(self.con, method)))

    def table(self, name: str) -> ir.Table:
        if name not in self._loaded and (self.in_lake(name) or self._lake_events(name)):
            self._loaded[name] = self._read_lake(name)
        if name not in self._loaded:
            cur = self.store.con.cursor()
            cols = cur.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_name = ? order by ordinal_position",
                [name],
            ).fetchall()
            if self._local:
                self._loaded[name] = self._read_through_file(cur, name, cols)
            else:
                select = ", ".join(
                    f'"{c}"::varchar as "{c}"' if t in ("HUGEINT", "UHUGEINT") else f'"{c}"'
                    for c, t in cols
                )
                data = cur.sql(f"select {select} from {name}").to_arrow_table()
                self._loaded[name] = self.from_arrow(data, name).get_name()
            cur.close()
        return self.con.table(self._loaded[name])

    def _read_through_file(self, cur: duckdb.DuckDBPyConnection, name: str,
                           cols: list[tuple[str, str]]) -> str:  # fmt: skip
        """A one-file store's table for a local session: DuckDB writes it as a Parquet file in
        the engine's temporary folder (kept until the engine closes) and the executors read it
        — not sent through the driver's JVM, whose heap the 100k world's event log overflowed.
        Columns as Spark takes them from Arrow: timestamps in UTC, unsigned and huge integers
        and UUIDs as text."""
        def column(c: str, t: str) -> str:
            if t.startswith("TIMESTAMP") and "TIME ZONE" not in t:
                return f"timezone('UTC', \"{c}\") as \"{c}\""
            if t.startswith("U") or t == "HUGEINT":  # UBIGINT, UHUGEINT, UUID, …
                return f'"{c}"::varchar as "{c}"'
            return f'"{c}"'

        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="empatia-spark-")
        path = os.path.join(self._scratch, f"{uuid.uuid4().hex}.parquet")
        select = ", ".join(column(c, t) for c, t in cols)
        row = cur.execute(f"copy (select {select} from {name}) to '{path}' (format parquet)"
                          ).fetchone()  # fmt: skip
        self.meter["sent"] += int(row[0]) if row else 0  # from this machine, if not the driver
        tmp = self._temp_name(name)
        self.session.read.parquet(path).createOrReplaceTempView(tmp)
        self._temps.append(tmp)
        return tmp

    def from_arrow(self, data: pa.Table | Any, name: str | None = None) -> ir.Table:
        if not isinstance(data, pa.Table):
            data = pa.Table.from_pandas(data, preserve_index=False)
        data = _spark_safe(data)
        self.meter["sent"] += data.num_rows
        tmp = self._temp_name(name)
        if data.num_rows:
            df = self.session.createDataFrame(data)
        else:
            df = self.session.createDataFrame([], _spark_schema(data.schema))
        df.cache().createOrReplaceTempView(tmp)
        self._temps.append(tmp)
        return self.con.table(tmp)

    def json_str(self, doc: ir.StringValue, path: str) -> ir.StringValue:
        return _spark_json_str(doc, path)

    def json_strs(self, doc: ir.StringValue, paths: Sequence[str]) -> list[ir.StringValue]:
        """Each document parsed once (``from_json`` into a struct of the paths' fields, each
        leaf as text, as ``get_json_object`` prints it) where get_json_object parsed it once per
        path: 14 paths over the 100k world's 2.3M events, 49 → 16 s on 2 cores, the same
        values. A path that is not plain keys, or that another path goes through, keeps
        get_json_object, and so do fewer than :data:`_FROM_JSON_PATHS` paths."""
        keys = {p: p[2:].split(".") for p in paths
                if _PLAIN_PATH.fullmatch(p)}  # fmt: skip
        keys = {p: k for p, k in keys.items()
                if not any(q != p and q.startswith(p + ".") for q in paths)}  # fmt: skip
        if len(keys) < _FROM_JSON_PATHS:
            return super().json_strs(doc, paths)
        tree: dict[str, Any] = {}
        for k in keys.values():
            node = tree
            for part in k[:-1]:
                node = node.setdefault(part, {})
            node[k[-1]] = None

        def ddl(node: dict[str, Any]) -> str:
            return ", ".join(f"`{n}` " + ("STRING" if sub is None else f"STRUCT<{ddl(sub)}>")
                             for n, sub in node.items())  # fmt: skip

        def dtype(node: dict[str, Any]) -> dt.DataType:
            return dt.Struct({n: dt.string if sub is None else dtype(sub) for n, sub in node.items()})

        parse = ibis.udf.scalar.builtin(lambda doc, schema: None, name="from_json",
                                        signature=((dt.string, dt.string), dtype(tree)))  # fmt: skip
        parsed = parse(doc, ddl(tree))
        out = []
        for p in paths:
            if p not in keys:
                out.append(self.json_str(doc, p))
                continue
            v = parsed
            for part in keys[p]:
                v = v[part]
            out.append(v)
        return out

    def _metered(self, method: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """An Ibis backend's way of bringing results here, counting the rows it brings (once:
        one way may call another)."""
        self._depth += 1
        try:
            out = method(*args, **kw)
        finally:
            self._depth -= 1
        if not self._depth:
            rows = isinstance(out, pa.Table) or type(out).__name__ == "DataFrame"  # pandas'
            self.meter["collected"] += len(out) if rows else 1
        return out

    def _lake_events(self, name: str) -> bool:
        """The event log, read from the lake (shipped there by the run)."""
        return name == "events" and getattr(self.store, "lake", None) is not None

    def _read_lake(self, name: str) -> str:
        """A lake table as a view of this session: its files, read by the executors (the
        driver only lists them) — the version the store's view reads, or the event log's
        latest."""
        from empatia.store import lake as lk

        lake = self.lake
        if name == "events":
            files = lake.files(name)
        else:
            with self._pin_cursor() as cur:
                files = lk.pinned_files(cur, lake, name)
        if files:
            df = self.session.read.parquet(*files)
        else:
            df = self.session.createDataFrame([], _spark_schema(lake.schema(name)))
        tmp = self._temp_name(name)
        df.createOrReplaceTempView(tmp)
        self._temps.append(tmp)
        return tmp

    def _lake_put(self, rows: ir.Table, table: str, *, append: bool = False) -> int:
        # the executors write the files; the driver lists them and commits one version
        lake = self.lake
        folder = lake.staging(table)
        self.session.sql(self.con.compile(rows)).write.parquet(folder)
        return lake.commit(table, folder, append=append)

    def write(
        self, expr: ir.Table, table: str, *, replace: bool = True, where: str | None = None
    ) -> int:
        if self._local and not self.in_lake(table):
            n = self._write_through_files(expr, table, replace=replace, where=where)
        else:
            n = super().write(expr, table, replace=replace, where=where)
        self.invalidate(table)
        return n

    def _write_through_files(self, expr: ir.Table, table: str, *, replace: bool,
                             where: str | None) -> int:  # fmt: skip
        """A one-file store's table from a local session: the executors write the rows as
        Parquet files in a temporary folder and DuckDB inserts them from there, in batches —
        never all of them in the driver's JVM (a 100k world's identifiers overflowed its
        heap) nor in this process at once."""
        folder = tempfile.mkdtemp(prefix="empatia-rows-")
        try:
            self.session.sql(self.con.compile(expr)).write.mode("overwrite").parquet(folder)
            if any(f.endswith(".parquet") for f in os.listdir(folder)):
                data: pa.Table | pads.Dataset = pads.dataset(folder, format="parquet")
            else:  # no partition wrote a file
                data = expr.schema().to_pyarrow().empty_table()
            n = write_arrow(self.store, data, table, replace=replace, where=where)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.meter["collected"] += n  # they came to this machine, if not through the driver
        return n

    def invalidate(self, table: str) -> None:
        name = self._loaded.pop(table, None)
        if name is not None:
            self._temps.remove(name)
            self.session.catalog.dropTempView(name)

    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        tmp = self._temp_name(name)
        _checkpoint(self.session.sql(self.con.compile(expr))).createOrReplaceTempView(tmp)
        self._temps.append(tmp)
        return self.con.table(tmp)

    def drop_temp(self, table: ir.Table) -> None:
        name = table.get_name()
        if name in self._temps:
            self._temps.remove(name)
            self.session.catalog.dropTempView(name)

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        return expr.to_pyarrow()

    def map_batches(self, expr: ir.Table, fn: BatchFn, schema: pa.Schema,
                    name: str | None = None) -> ir.Table:  # fmt: skip
        df = self.session.sql(self.con.compile(expr))
        out = df.mapInArrow(partial(_mapped, fn, schema), _spark_schema(schema))
        tmp = self._temp_name(name)
        _checkpoint(out).createOrReplaceTempView(tmp)  # a model runs once
        self._temps.append(tmp)
        return self.con.table(tmp)

    def fit(self, expr: ir.Table, fn: FitFn) -> tuple[FittedModel | None, dict[str, Any]]:
        path = os.path.join(self._models(), f"{uuid.uuid4().hex}.pickle")
        schema = expr.schema().to_pyarrow()
        df = self.session.sql(self.con.compile(expr)).repartition(1)
        rows = df.mapInArrow(partial(_fit_in_worker, fn, schema, path),
                             _spark_schema(_FIT_ROW)).collect()  # fmt: skip
        self.meter["collected"] += len(rows)
        if not rows:  # no partition to run in: nothing to fit on
            model, summary = fn(schema.empty_table())
            return None if model is None else FittedModel(model), summary
        self._made.append(path)
        summary = pickle.loads(rows[0]["summary"])  # noqa: S301 - what the fit above made
        return (FittedModel(path=path) if rows[0]["kept"] else None), summary

    def _models(self) -> str:
        """Where a fit leaves its model for the executors: the lake's folder (which they
        read), else a folder of this machine (a local session's executors share it)."""
        lake = getattr(self.store, "lake", None)
        if lake is None:
            folder = os.path.join(tempfile.gettempdir(), "empatia-models")
        else:
            from empatia.store.lake import MODELS

            folder = str(lake.root / MODELS)
        os.makedirs(folder, exist_ok=True)
        day_ago = time.time() - 86400  # a killed run's models: no run takes a day to use them
        for name in os.listdir(folder):
            with suppress(OSError):
                if os.stat(p := os.path.join(folder, name)).st_mtime < day_ago:
                    os.unlink(p)
        return folder

    def splink_api(self) -> Any:
        """Splink's Spark linker on this session (its similarity jar is registered by
        :func:`spark_session`), with DuckDB's Jaro–Winkler in place of the jar's
        (:func:`jaro_winkler`) and DuckDB's Levenshtein (:func:`levenshtein`) for Splink's
        Levenshtein comparisons (:func:`empatia.identity.probabilistic._levenshtein`)."""
        from pyspark.sql.functions import arrow_udf

        api = _splink_spark_api()(spark_session=self.session, break_lineage_method="persist")
        for name, fn, kind in (("jaro_winkler", jaro_winkler, "double"),
                               ("levenshtein_utf8", levenshtein, "int")):  # fmt: skip
            udf = arrow_udf(fn, kind)  # type: ignore[call-overload]  # pa: untyped
            self.session.udf.register(name, udf)  # a built-in's name would not replace it
        return api

    def splink_frame(self, expr: ir.Table) -> Any:
        return self.session.sql(self.con.compile(expr))

    def splink_table(self, result: Any) -> ir.Table:
        return self.con.table(result.physical_name)  # a view of the session: where Splink left it

    def close(self) -> None:
        for name in self._temps:
            self.session.catalog.dropTempView(name)
        self._temps.clear()
        self._loaded.clear()
        for path in self._made:  # the models its fits left for the executors
            with suppress(OSError):
                os.unlink(path)
        self._made.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _checkpoint(df: Any) -> Any:
    """``df`` computed once and kept on the executors' disks, out of lineage: a stage reads
    it again, so it runs once. Not in their memory (Spark's default for a checkpoint): the
    rows kept there took the heap the later work needed — decide at 1M on 2 GB executors
    held 514 MB of the stage's checkpoints when its signals step ran out of heap, unrolling
    its model step's output into memory (#17)."""
    from pyspark import StorageLevel

    return df.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)


@cache
def _splink_spark_api() -> type:
    """Splink's Spark backend, keeping EM's table of agreement-pattern counts (a few hundred
    rows that every iteration reads) in one partition, computed once: Splink leaves it a
    view, so each of ~13 iterations counted every pair's pattern again (#17: 66 of identity's
    226 s on a 2-core cluster at 10k). What Splink persists (pairs, their comparison
    vectors, term frequencies) is kept on the executors' disks, not in their heap, for the
    reason :func:`_checkpoint` gives, and in as many partitions as its size needs (Spark's
    ``rebalance``), not Splink's fixed half of ``spark.sql.shuffle.partitions``: on a cluster
    that was 100 partitions, and 200 tasks each later read, for any number of people (#17:
    1,392 of identity's tasks on a 150-customer world, 493 with this)."""
    from pyspark import StorageLevel
    from splink import SparkAPI

    class API(SparkAPI):  # type: ignore[misc]
        def _repartition_if_needed(self, spark_df: Any, templated_name: str) -> Any:
            out = super()._repartition_if_needed(spark_df, templated_name)
            return spark_df if out is spark_df else spark_df.hint("rebalance")

        def _break_lineage_and_repartition(self, spark_df: Any, templated_name: str,
                                           physical_name: str) -> Any:  # fmt: skip
            if templated_name == "__splink__agreement_pattern_counts":
                return spark_df.coalesce(1).localCheckpoint(eager=True)
            if templated_name == "__splink__blocked_id_pairs":  # Splink repartitions it twice
                return self._repartition_if_needed(spark_df, templated_name).persist(
                    StorageLevel.DISK_ONLY)
            df = super()._break_lineage_and_repartition(spark_df, templated_name, physical_name)
            if df.is_cached and df.storageLevel.useMemory:  # marked only: nothing computed yet
                df = df.unpersist().persist(StorageLevel.DISK_ONLY)
            return df

    return API


def _duck_pairs(fn: str, kind: str, a: pa.Array, b: pa.Array) -> pa.Array:
    """DuckDB's string function ``fn`` over each pair of ``a`` and ``b``, cast to ``kind``:
    DuckDB as a library, in memory, in the process the step runs in (null where either is
    null)."""
    with _json_reader().cursor() as con:
        con.register("_emp_pairs", pa.table({"a": a, "b": b}))
        out = con.sql(f"select {fn}(a, b)::{kind} from _emp_pairs").to_arrow_table()
    return out.column(0).combine_chunks()


def jaro_winkler(a: pa.Array, b: pa.Array) -> pa.Array:
    """DuckDB's ``jaro_winkler_similarity`` as a Spark Arrow UDF (two arrays of strings to an
    array of doubles; null where either is null), computed by DuckDB itself, so that a pair of
    names falls into the same level of Splink's model on both engines. The jar Splink
    registers on Spark (Apache Commons Text) compares characters instead of DuckDB's UTF-8
    bytes: it differed from DuckDB's on 809 of 4,000 name pairs of the 10k world, by up to
    0.136, and the two engines stitched different persons. (A batch at a time: a Python call
    per pair took 8× as long.)

    >>> jaro_winkler(pa.array(["aleksandr", "Łódź", None]),
    ...              pa.array(["aleksey", "Lodz", "x"])).to_pylist()
    [0.8539682539682539, 0.46428571428571425, None]
    """
    return _duck_pairs("jaro_winkler_similarity", "double", a, b)


def levenshtein(a: pa.Array, b: pa.Array) -> pa.Array:
    """DuckDB's ``levenshtein`` as a Spark Arrow UDF, computed by DuckDB: edits between the
    strings' UTF-8 bytes (``Łódź``/``Lodz``: 6 — Spark's own counts characters, 3), so that a
    postal code, e-mail or date pair falls into the same level of Splink's model on both
    engines.

    >>> levenshtein(pa.array(["Łódź", "02-495", None]), pa.array(["Lodz", "02-459", "x"])).to_pylist()
    [6, 2, None]
    """
    return _duck_pairs("levenshtein", "integer", a, b)


def _mapped(fn: BatchFn, schema: pa.Schema, batches: Iterator[pa.RecordBatch]
            ) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """A model step as Spark's ``mapInArrow`` runs it, in a Python worker."""
    for batch in batches:
        for start in range(0, batch.num_rows, BATCH_ROWS):
            yield from conform(fn(batch.slice(start, BATCH_ROWS)), schema).to_batches()


#: The row a fit on Spark brings to the driver (:meth:`SparkEngine.fit`).
_FIT_ROW = pa.schema([("kept", pa.bool_()), ("summary", pa.binary())])


def _fit_in_worker(fn: FitFn, schema: pa.Schema, path: str,
                   batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """A fit as Spark's ``mapInArrow`` runs it, in the one Python worker that has every row:
    the model to ``path`` (written whole, then renamed into place), its summary out."""
    got = list(batches)
    model, summary = fn(pa.Table.from_batches(got) if got else schema.empty_table())
    if model is not None:
        tmp = f"{path}.{os.getpid()}.part"
        with open(tmp, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    yield pa.RecordBatch.from_pydict(
        {"kept": [model is not None], "summary": [pickle.dumps(summary)]}, schema=_FIT_ROW)


def _spark_safe(data: pa.Table) -> pa.Table:
    """Spark has no unsigned or huge integers: send those as text."""
    cols = []
    for field, col in zip(data.schema, data.columns, strict=True):
        t = field.type
        if pa.types.is_unsigned_integer(t) or pa.types.is_decimal(t) and t.precision > 38:
            col = col.cast(pa.string())
        elif pa.types.is_timestamp(t) and t.unit == "ns":
            col = col.cast(pa.timestamp("us", tz=t.tz))
        cols.append(col)
    return pa.Table.from_arrays(cols, names=data.column_names)


def _spark_schema(schema: pa.Schema) -> Any:
    from ibis.backends.pyspark.datatypes import PySparkSchema

    return PySparkSchema.from_ibis(ibis.Schema.from_pyarrow(schema))


def spark_session(master: str | None = None, *, remote: str | None = None,
                  shuffle_partitions: int | None = None, **conf: str) -> Any:  # fmt: skip
    """A Spark session for Empatia (UTC, Arrow, Splink's similarity functions).

    Where it runs, the first that applies: ``remote`` or ``SPARK_REMOTE`` (Spark Connect);
    ``master``; the master ``spark-submit --master`` started this process with; ``local[2]``.
    ``conf`` is Spark's own settings, passed as they are (they win over Empatia's defaults).
    Importing PySpark happens here, so DuckDB-only installs never need it.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise MissingExtraError("pyspark", "spark") from e
    source = "[spark] remote" if remote else "SPARK_REMOTE"
    remote = remote or os.environ.get("SPARK_REMOTE")
    if remote:
        _answers(remote, source)
    submitted = not remote and "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit's JVM
    builder = SparkSession.builder.appName("empatia")
    settings = {"spark.sql.session.timeZone": "UTC",
                "spark.sql.execution.arrow.pyspark.enabled": "true",
                # Parquet's standard timestamps (the lake's readers do not all read INT96)
                "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
                # a join's side is broadcast when its measured size is small (adaptive
                # execution), never from the planner's guess: on the 100k world a guess from
                # compressed Parquet sizes broadcast a table larger than the driver's 1 GiB
                "spark.sql.autoBroadcastJoinThreshold": "-1",
                "spark.sql.adaptive.autoBroadcastJoinThreshold": "10MB",
                # what Splink persists in as many partitions as its size needs, not in
                # spark.sql.shuffle.partitions (200 tasks each read on a cluster, for any
                # size; :func:`_splink_spark_api`)
                "spark.sql.optimizer.canChangeCachedPlanOutputPartitioning": "true"}  # fmt: skip
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python model steps run in Python workers: this interpreter, where Empatia is installed
    # (on a cluster, the executors' own: spark.pyspark.python or PYSPARK_PYTHON; a Spark
    # Connect server's own, unless it is a local one this process starts)
    os.environ.setdefault("PYSPARK_PYTHON", conf.get("spark.pyspark.python", sys.executable))
    if remote:
        builder = builder.remote(remote)  # the server has its own master
    else:
        if master or not submitted:  # else spark-submit's --master
            builder = builder.master(master or "local[2]")
        local = (master or ("" if submitted else "local")).startswith("local")
        if local:
            settings |= {"spark.ui.enabled": "false", "spark.driver.memory": "2g",
                         "spark.sql.shuffle.partitions": "4"}  # fmt: skip
        if not submitted:  # the JVM this process starts gets them on its class path
            settings["spark.jars"] = _similarity_jar()
    if shuffle_partitions:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    for key, value in (settings | conf).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except ImportError as e:  # Spark Connect's client libraries
        raise MissingExtraError(e.name or "grpcio", "spark") from e
    if submitted:  # spark-submit started the JVM before spark.jars could count: add it now
        session.sql(f"ADD JAR '{_similarity_jar()}'")
    elif remote:  # Spark Connect: the jar goes to the server, for this session
        session.addArtifacts(_similarity_jar())
    return session


def _answers(remote: str, source: str) -> None:
    """Refuse a Spark Connect URL where no server answers: PySpark's client would retry it
    for many minutes without a word. ``local…`` starts a server of its own."""
    from urllib.parse import urlsplit

    if remote.startswith("local"):
        return
    try:
        url = urlsplit(remote)
        host, port = url.hostname, url.port or 15002
    except ValueError:
        host = None
    if not host or not remote.startswith("sc://"):
        shown = remote.split(";")[0][:60]  # not its ;token=…
        raise ConfigError(f"{source} is not a Spark Connect URL (sc://host:port): {shown!r}")
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as e:
        raise ConfigError(f"no Spark Connect server answers at {host}:{port} (from {source}):"
                          f" {e.strerror or e}") from e  # fmt: skip


def _similarity_jar() -> str:
    """Splink's string-similarity functions for Spark (Jaro-Winkler …), a jar in its wheel."""
    from splink.backends.spark import similarity_jar_location

    return str(similarity_jar_location())


def connect(store: Store, engine: str = "duckdb", *, master: str | None = None,
            session: Any = None, spark: SparkSettings | None = None,
            conf: Mapping[str, str] | None = None) -> Engine:  # fmt: skip
    """An :class:`Engine` over ``store``: ``"duckdb"`` (in the store) or ``"spark"``.

    On Spark: ``session`` reuses a running ``SparkSession``; otherwise one is made from the
    ``[spark]`` settings ``spark``, ``master`` (Spark's master URL) and ``conf`` (Spark
    settings) on top of them.
    """
    if engine == "duckdb":
        return DuckDBEngine(store)
    if engine == "spark":
        if session is None:
            from empatia.settings import SparkSettings

            s = spark or SparkSettings()
            session = spark_session(master or s.master, remote=s.remote,
                                    shuffle_partitions=s.shuffle_partitions,
                                    **(dict(s.conf) | dict(conf or {})))  # fmt: skip
        return SparkEngine(store, session)
    raise unknown_engine(engine)


def unknown_engine(engine: str) -> ConfigError:
    """The error for an engine name not in :data:`ENGINES`."""
    return ConfigError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}", engine=engine)


def union(*tables: ir.Table, distinct: bool = False) -> ir.Table:
    """``UNION [ALL]`` of tables whose columns differ only in nullability."""
    first = tables[0].schema()
    schema = ibis.schema({name: t.copy(nullable=True) for name, t in first.items()})
    cast = [t.select(*first.names).cast(schema) for t in tables]
    return ibis.union(*cast, distinct=distinct)


def engine_for(ctx: Any) -> tuple[Engine, bool]:
    """The engine a pipeline stage runs on, and whether the stage must close it.

    A runner that shares one engine between stages puts it in ``ctx.engine_instance``;
    otherwise a new one is made from ``ctx.engine`` (for Spark: ``ctx.spark_session``, or the
    workspace's ``[spark]`` settings with ``ctx.master`` and ``ctx.spark_conf`` on top).
    """
    shared = ctx.engine_instance
    if isinstance(shared, Engine):
        return shared, False
    settings = getattr(getattr(ctx, "workspace", None), "settings", None)
    eng = connect(ctx.store, ctx.engine, master=ctx.master, session=ctx.spark_session,
                  spark=getattr(settings, "spark", None), conf=getattr(ctx, "spark_conf", None))
    meter = getattr(ctx, "driver_rows", None)
    if isinstance(eng, SparkEngine) and meter is not None:
        eng.meter = meter  # the run reports what crossed the driver, per stage
    return eng, True
