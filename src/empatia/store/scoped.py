"""What a pipeline stage sees of the store while it runs: one transaction, its own tables.

The runner (:func:`empatia.pipeline.run_pipeline`) gives each stage a :class:`StageStore` as
``ctx.store``. It stands where a :class:`~empatia.store.Store` or a cursor stood — ``.con``,
``.cursor()``, ``.read()`` and ``.write()`` all answer the same one cursor — so that:

* **a stage's outputs land together or not at all.** Everything the stage writes, and the
  runner's record of what it read (``pipeline_state``), is one DuckDB transaction, committed
  when the stage returns; an error (or a kill -9) leaves every output as the last run left
  it. ``begin``/``commit`` inside the stage join that transaction. Work that must follow the
  commit — sending care alerts, rewriting the file after an erasure — is handed to
  :meth:`StageStore.after_commit`.
* **a stage writes only what it declares.** Every statement is parsed with SQLGlot (once per
  distinct text) before it runs; one that inserts, deletes, updates, creates, alters or drops
  a table the stage does not declare in ``writes`` (or a temporary table of its own) is a
  :class:`StageContractError` and nothing runs. An erasing stage (privacy) may delete from
  any table.
* **a lock a stage takes is held until its outputs commit** (:attr:`StageStore.write_lock`):
  the live identity path waits for a batch resolution's identities to be committed, not
  merely written.

A memo of a pure model step (emotion's ``text_cache``: the analysis of a text, by its hash)
is not an output; :meth:`StageStore.memo` writes it in a transaction of its own, so a run cut
off half-way keeps what the model already computed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from empatia.errors import ConfigError

if TYPE_CHECKING:
    from empatia.store import Store


class StageContractError(ConfigError):
    """A stage tried to write a table it does not declare (a bug in that stage)."""


_WRITES = (exp.Insert, exp.Delete, exp.Update, exp.Create, exp.Drop, exp.Alter, exp.Merge)
_HEAD = re.compile(
    r"\s*(?:insert(?:\s+or\s+\w+)?\s+into|delete\s+from|update|"
    r"(?:create|drop|alter)(?:\s+or\s+replace)?(?P<temp>\s+temp(?:orary)?)?\s+table"
    r"(?:\s+if(?:\s+not)?\s+exists)?)\s+(?P<table>[\w.\"]+)",
    re.IGNORECASE,
)
_TX = {"begin", "begin transaction", "commit", "rollback", "abort", "end"}


@lru_cache(maxsize=4096)
def _targets(sql: str) -> tuple[tuple[str, bool], ...] | None:
    """The tables ``sql`` writes, each with whether it is created temporary; ``None`` when
    SQLGlot cannot parse it."""
    quiet = logging.getLogger("sqlglot")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "falling back to parsing as a Command": handled below
    try:
        trees = sqlglot.parse(sql, read="duckdb", error_level=ErrorLevel.IGNORE)
    except Exception:  # noqa: BLE001 - a parse error, or SQLGlot's own bug on odd text
        trees = [exp.Command()]
    finally:
        quiet.setLevel(level)
    if any(isinstance(t, exp.Command) for t in trees):  # e.g. "?::varchar[]": by its head
        m = _HEAD.match(sql)
        return ((m["table"].split(".")[-1].strip('"'), bool(m["temp"])),) if m else None
    out = []
    for tree in trees:
        if not isinstance(tree, _WRITES):
            continue
        target = tree.this if tree.this is not None else tree  # "drop" keeps it inside
        table = target if isinstance(target, exp.Table) else target.find(exp.Table)
        if table is None:  # e.g. "create schema", "drop macro"
            continue
        temp = isinstance(tree, exp.Create) and any(
            isinstance(p, exp.TemporaryProperty) for p in tree.find_all(exp.TemporaryProperty)
        )
        out.append((table.name, temp or isinstance(tree, exp.Drop) and _temp_schema(table)))
    return tuple(out)


def _temp_schema(table: exp.Table) -> bool:
    return table.db.lower() == "temp"


class _HeldUntilCommit:
    """A lock that, once a stage takes it, stays taken until the stage's transaction ends."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.held = False

    def __enter__(self) -> None:
        if not self.held:
            self._lock.acquire()
            self.held = True

    def __exit__(self, *exc: object) -> None:
        pass

    def release(self) -> None:
        if self.held:
            self.held = False
            self._lock.release()


class SettlingCursor:
    """A cursor shared by a stage's own statements and Ibis. DuckDB's relation calls refuse
    to run while a result of ``execute`` is unread (a stage's ``fetchone`` leaves one), as a
    new ``execute`` would have dropped it: these calls drop it first too."""

    _NEW_WORK = frozenset({"sql", "query", "table", "view", "values", "register", "unregister",
                           "from_arrow", "from_df", "read_parquet", "read_csv", "read_json"})

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._cur, name)
        if name in self._NEW_WORK:
            self._cur.abort()
        return attr


class StageStore:
    """The store as one stage sees it while it runs (see the module's docstring)."""

    def __init__(self, store: Store, stage: str, writes: tuple[str, ...] | None) -> None:
        """``writes``: the tables the stage may write; ``None``: any (an erasing stage)."""
        self.store = store
        self.path = store.path
        self.stage = stage
        self._writes = None if writes is None else set(writes)
        self._temps: set[str] = set()
        self._after: list[Callable[[], Any]] = []
        self.write_lock = self.lock = _HeldUntilCommit(store.write_lock)
        self._cur = store.cursor()
        self._cur.execute("begin transaction")

    # -- the transaction ------------------------------------------------------------------
    def commit(self) -> None:
        """Commit the stage's writes, then run what waited for the commit."""
        try:
            self._cur.execute("commit")
        finally:
            self._end()
        for fn in self._after:
            fn()

    def rollback(self) -> None:
        try:
            self._cur.execute("rollback")
        except duckdb.Error:  # the failed statement already ended it
            pass
        finally:
            self._end()

    def _end(self) -> None:
        self.write_lock.release()
        self.store._closed(self._cur)

    def after_commit(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once the stage's outputs are committed (never if they are not)."""
        self._after.append(fn)

    @contextmanager
    def memo(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction of its own for a memo of a pure model step (kept if the stage fails)."""
        with self.store.write() as cur:
            yield cur

    # -- the store's face ------------------------------------------------------------------
    @property
    def con(self) -> Any:
        return self

    @property
    def raw(self) -> Any:
        """The transaction's cursor for the engine layer (Ibis runs on it); unchecked."""
        return SettlingCursor(self._cur)

    def cursor(self) -> Any:
        return self

    @contextmanager
    def read(self) -> Iterator[Any]:
        yield self

    @contextmanager
    def write(self) -> Iterator[Any]:
        yield self

    def close(self) -> None:
        """A stage "closing a cursor" it was given: the transaction stays open."""

    def table_exists(self, name: str) -> bool:
        rows = self._cur.execute(
            "select count(*) from information_schema.tables where table_name = ?", [name]
        ).fetchall()  # no open result left on the cursor
        return bool(rows and rows[0][0])

    @property
    def lake(self) -> Any:
        return self.store.lake

    def is_lake(self, table: str) -> bool:
        return self.store.is_lake(table)

    # -- statements ------------------------------------------------------------------------
    def check(self, sql: str) -> bool:
        """Whether ``sql`` is a statement to run (``begin``/``commit`` join the stage's
        transaction instead); raises when it writes a table the stage does not declare."""
        head = " ".join(sql.split()).lower().rstrip(";")
        if head in _TX:
            return False
        targets = _targets(sql)
        if targets is None:
            if head.split(" ", 1)[0] in {"insert", "delete", "update", "create", "drop", "alter"}:
                raise StageContractError(
                    f"stage {self.stage}: a write SQLGlot cannot parse "
                    f"({' '.join(head.split()[:3])} …)"
                )
            return True
        for name, temp in targets:
            if temp:
                self._temps.add(name)
            elif not (self._writes is None or name in self._writes or name in self._temps
                      or not self._stored(name)):
                raise StageContractError(
                    f"stage {self.stage} writes table {name!r}, which it does not declare "
                    f"(it declares: {', '.join(sorted(self._writes)) or 'none'})"
                )
        return True

    def _stored(self, name: str) -> bool:
        """Whether ``name`` is a table of the store (not a temporary one, not missing)."""
        row = self._cur.execute(
            "select count(*) from duckdb_tables() where table_name = ? and not temporary", [name]
        ).fetchone()
        return bool(row and row[0])

    def execute(self, sql: str, params: Any = None) -> Any:
        if not self.check(sql):
            return self._cur
        return self._cur.execute(sql, params) if params is not None else self._cur.execute(sql)

    def executemany(self, sql: str, params: Any) -> Any:
        self.check(sql)
        return self._cur.executemany(sql, params)

    def sql(self, query: str, **kw: Any) -> Any:
        self.check(query)
        self._cur.abort()
        return self._cur.sql(query, **kw)

    query = sql

    def register(self, name: str, data: Any) -> Any:
        self._cur.abort()
        return self._cur.register(name, data)

    def __getattr__(self, name: str) -> Any:
        # Reading results and registering frames: the cursor's own (fetchall, df, register…).
        return getattr(self._cur, name)


@contextmanager
def stage_transaction(store: Store, stage: str, writes: tuple[str, ...]) -> Iterator[StageStore]:
    """A stage's work done outside the runner (``empatia emotion reanalyze``…) with the same
    guarantees: its declared tables only, all committed at the end or none on an error."""
    db = StageStore(store, stage, writes)
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()
