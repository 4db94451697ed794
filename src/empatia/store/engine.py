"""Where the batch pipeline runs: DuckDB (default) or Apache Spark — the one place they differ.

Stages write their logic as Ibis expressions over :meth:`Engine.table` and hand results to
:meth:`Engine.write`; they never ask which engine they are on. The store (one DuckDB file)
stays the source of truth on both engines: on Spark the tables a stage reads are copied
into the session, and its results are copied back.

>>> from empatia.store import Store
>>> with Store(":memory:") as s:
...     eng = connect(s)
...     eng.table("events").count().to_pyarrow().as_py()
0
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from empatia.errors import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from empatia.store import Store

ENGINES = ("duckdb", "spark")


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duck_json_str(doc: str, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB: the value at ``path`` as text (strings unquoted, numbers printed)."""


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

    # -- materialising ------------------------------------------------------------------
    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        """Compute ``expr`` now and return it as a table (cuts long lineages in loops)."""
        raise NotImplementedError

    def drop_temp(self, table: ir.Table) -> None:
        """Forget a table made by :meth:`materialize` (frees memory in long loops)."""

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        return expr.to_pyarrow()

    def splink_api(self) -> Any:
        """The Splink database API for probabilistic matching on this engine."""
        return splink_duckdb_api()

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
        return self.write_arrow(self.to_arrow(expr), table, replace=replace, where=where)

    def write_arrow(
        self, data: pa.Table, table: str, *, replace: bool = True, where: str | None = None
    ) -> int:
        """Write local Arrow data into the store table ``table``."""
        n = write_arrow(self.store, data, table, replace=replace, where=where)
        self.invalidate(table)
        return n

    def invalidate(self, table: str) -> None:
        """Forget any copy of a store table this engine holds (it was just written)."""

    def close(self) -> None:
        for name in self._temps:
            try:
                self.con.drop_table(name, force=True)
            except Exception:  # noqa: BLE001 - best effort clean-up
                pass
        self._temps.clear()

    def _temp_name(self, name: str | None) -> str:
        return f"_emp_{name or 'tmp'}_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def splink_duckdb_api() -> Any:
    """Splink's DuckDB backend on a private in-memory database, without progress bars."""
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    return DuckDBAPI(con)


def write_arrow(
    store: Store, data: pa.Table, table: str, *, replace: bool = True, where: str | None = None
) -> int:
    """Insert an Arrow table into a store table by column name, in one transaction."""
    cur = store.con.cursor()
    try:
        cur.register("_emp_incoming", data)
        cur.execute("begin transaction")
        if replace:
            cur.execute(f"delete from {table}" + (f" where {where}" if where else ""))
        cur.execute(f"insert into {table} by name select * from _emp_incoming")
        cur.execute("commit")
        return data.num_rows
    except Exception:
        cur.execute("rollback")
        raise
    finally:
        cur.close()


class DuckDBEngine(Engine):
    """Runs everything inside the store's own DuckDB database, on a cursor of its connection."""

    name = "duckdb"
    incremental = True

    def __init__(self, store: Store) -> None:
        self._cur = store.con.cursor()  # own session settings (Ibis sets UTC), same database
        super().__init__(store, ibis.duckdb.from_connection(self._cur))

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    @contextmanager
    def store_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        yield self._cur

    def from_arrow(self, data: pa.Table | Any, name: str | None = None) -> ir.Table:
        return self.materialize(ibis.memtable(data), name)

    def json_str(self, doc: ir.StringValue, path: str) -> ir.StringValue:
        return _duck_json_str(doc, path)

    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        tmp = self._temp_name(name)
        self._temps.append(tmp)
        return self.con.create_table(tmp, expr, temp=True)

    def drop_temp(self, table: ir.Table) -> None:
        name = table.get_name()
        if name in self._temps:
            self._temps.remove(name)
            self.con.drop_table(name, force=True)

    def write(
        self, expr: ir.Table, table: str, *, replace: bool = True, where: str | None = None
    ) -> int:
        # Same database: let DuckDB move the rows without a round trip through Arrow.
        sql = self.con.compile(expr)
        cur = self._cur
        cur.execute("begin transaction")
        try:
            if replace:
                cur.execute(f"delete from {table}" + (f" where {where}" if where else ""))
            row = cur.execute(f"insert into {table} by name {sql}").fetchone()
            cur.execute("commit")
        except Exception:
            cur.execute("rollback")
            raise
        return int(row[0]) if row else 0

    def close(self) -> None:
        super().close()
        self._cur.close()


class SparkEngine(Engine):
    """Runs on a Spark session; store tables are copied in, results copied back."""

    name = "spark"

    def __init__(self, store: Store, session: Any) -> None:
        self.session = session
        super().__init__(store, ibis.pyspark.connect(session))
        self._loaded: dict[str, str] = {}

    def table(self, name: str) -> ir.Table:
        if name not in self._loaded:
            cur = self.store.con.cursor()
            cols = cur.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_name = ? order by ordinal_position",
                [name],
            ).fetchall()
            select = ", ".join(
                f'"{c}"::varchar as "{c}"' if t in ("HUGEINT", "UHUGEINT") else f'"{c}"'
                for c, t in cols
            )
            data = cur.sql(f"select {select} from {name}").to_arrow_table()
            cur.close()
            self._loaded[name] = self.from_arrow(data, name).get_name()
        return self.con.table(self._loaded[name])

    def from_arrow(self, data: pa.Table | Any, name: str | None = None) -> ir.Table:
        if not isinstance(data, pa.Table):
            data = pa.Table.from_pandas(data, preserve_index=False)
        data = _spark_safe(data)
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

    def write(
        self, expr: ir.Table, table: str, *, replace: bool = True, where: str | None = None
    ) -> int:
        n = super().write(expr, table, replace=replace, where=where)
        self.invalidate(table)
        return n

    def invalidate(self, table: str) -> None:
        name = self._loaded.pop(table, None)
        if name is not None:
            self._temps.remove(name)
            self.session.catalog.dropTempView(name)

    def materialize(self, expr: ir.Table, name: str | None = None) -> ir.Table:
        tmp = self._temp_name(name)
        df = self.session.sql(self.con.compile(expr)).localCheckpoint(eager=True)
        df.createOrReplaceTempView(tmp)
        self._temps.append(tmp)
        return self.con.table(tmp)

    def drop_temp(self, table: ir.Table) -> None:
        name = table.get_name()
        if name in self._temps:
            self._temps.remove(name)
            self.session.catalog.dropTempView(name)

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        return expr.to_pyarrow()

    def splink_api(self) -> Any:
        """Splink's Spark linker on this session (its similarity jar is registered by
        :func:`spark_session`)."""
        from splink import SparkAPI

        return SparkAPI(spark_session=self.session, break_lineage_method="persist")

    def close(self) -> None:
        for name in self._temps:
            self.session.catalog.dropTempView(name)
        self._temps.clear()
        self._loaded.clear()


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


def spark_session(master: str = "local[2]", **conf: str) -> Any:
    """A Spark session for Empatia (UTC, small shuffles, Splink's similarity functions).

    Importing PySpark happens here, so DuckDB-only installs never need it.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise MissingExtraError("pyspark", "spark") from e
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(master)
        .appName("empatia")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", conf.pop("spark.sql.shuffle.partitions", "4"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", conf.pop("spark.driver.memory", "2g"))
    )
    try:
        from splink.backends.spark import similarity_jar_location

        builder = builder.config("spark.jars", similarity_jar_location())
    except ImportError:  # pragma: no cover - splink is a core dependency
        pass
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def connect(
    store: Store, engine: str = "duckdb", *, master: str | None = None, session: Any = None
) -> Engine:
    """An :class:`Engine` over ``store``: ``"duckdb"`` (in the store) or ``"spark"``.

    ``master`` is Spark's master URL (default ``local[2]``); ``session`` reuses a running
    ``SparkSession``.
    """
    if engine == "duckdb":
        return DuckDBEngine(store)
    if engine == "spark":
        if session is None:
            session = spark_session(master or "local[2]")
        return SparkEngine(store, session)
    raise ConfigError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}", engine=engine)


def union(*tables: ir.Table, distinct: bool = False) -> ir.Table:
    """``UNION [ALL]`` of tables whose columns differ only in nullability."""
    first = tables[0].schema()
    schema = ibis.schema({name: t.copy(nullable=True) for name, t in first.items()})
    cast = [t.select(*first.names).cast(schema) for t in tables]
    return ibis.union(*cast, distinct=distinct)


def engine_for(ctx: Any) -> tuple[Engine, bool]:
    """The engine a pipeline stage runs on, and whether the stage must close it.

    A runner that shares one engine between stages puts it in ``ctx.engine_instance``;
    otherwise a new one is made from ``ctx.engine`` (``ctx.master`` / ``ctx.spark_session``
    for Spark).
    """
    shared = ctx.engine_instance
    if isinstance(shared, Engine):
        return shared, False
    eng = connect(ctx.workspace.store, ctx.engine, master=ctx.master, session=ctx.spark_session)
    return eng, True
