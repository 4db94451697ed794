"""Opening, locking and upgrading the DuckDB store.

DuckDB allows one writing process per file. The process that opens a store owns it; other
processes get :class:`~empatia.errors.StoreLockedError`, and the CLI and the Workspace then
talk to the running server instead (see ``empatia.remote``).

Schema changes are migrations: numbered SQL files in a ``migrations`` folder of each
component (``empatia/store/migrations``, ``empatia/ingest/migrations``, …). Each component is
versioned on its own, so stages add tables without renumbering each other's files. Opening
an old file applies what is missing, in order, each migration in its own transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from empatia.errors import SchemaTooNewError, StoreError, StoreLockedError

if TYPE_CHECKING:
    from empatia.store.lake import Lake

log = logging.getLogger(__name__)

#: Components whose ``migrations`` folders make up the schema, in the order they apply.
COMPONENTS: tuple[str, ...] = (
    "store",
    "ingest",
    "privacy",
    "identity",
    "profiles",
    "emotion",
    "experience",
    "journeys",
    "care",
    "decide",
)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _owner_only() -> None:
    """The store holds personal data: it and its WAL are created readable by their owner only.

    DuckDB takes new files' modes from the process umask alone, and it makes the WAL anew
    after every checkpoint, so the umask of a process that writes a store gains ``077``
    (files it creates afterwards — exports, reject files — are owner-only too).
    """
    os.umask(os.umask(0o077) | 0o077)


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


def discover_migrations(components: tuple[str, ...] = COMPONENTS) -> list[Migration]:
    """Every migration shipped in the package, in the order it must be applied."""
    found: list[Migration] = []
    for component in components:
        try:
            folder = resources.files(f"empatia.{component}").joinpath("migrations")
        except ModuleNotFoundError:
            continue
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            m = _MIGRATION_NAME.match(entry.name)
            if m:
                found.append(Migration(component, int(m.group(1)), entry.name, entry.read_text()))
    return found


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on ``con``: committed when the block ends, rolled back on any error."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


class Store:
    """An open store. Use as a context manager or call :meth:`close`.

    >>> with Store(":memory:") as s:
    ...     s.con.execute("select count(*) from events").fetchone()
    (0,)
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        migrate: bool = True,
        memory_limit: str | None = None,
        threads: int | None = None,
        checkpoint_threshold: str | None = None,
        lake: Lake | None = None,
    ) -> None:
        self.path = str(path)
        #: Where the stage outputs live when ``[store] kind = "lake"`` (:mod:`empatia.store.lake`).
        self.lake = lake
        self.read_only = read_only
        config: dict[str, Any] = {}  # duckdb's stub takes a dict of str | bool | int | …
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = str(threads)
        if checkpoint_threshold:
            config["checkpoint_threshold"] = checkpoint_threshold
        if self.path != ":memory:":
            if not read_only:
                _owner_only()
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            root = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                found = re.search(r"PID (\d+)", str(e))
                pid = int(found.group(1)) if found else None
                raise _locked(self.path, pid) from e
            raise StoreError(f"cannot open the store {self.path}: {e}", path=self.path) from e
        if self.path != ":memory:" and not read_only:
            for f in (self.path, self.path + ".wal"):  # stores made before this was so
                with contextlib.suppress(FileNotFoundError):
                    os.chmod(f, 0o600)
        #: This store's one write lock: held by work that rewrites tables and must not
        #: interleave with other such work on this store (migrations, stitching, a run,
        #: erasure, the file rewrite, decisions); reentrant. Per store, so two workspaces
        #: served by one process never wait for each other.
        self.write_lock = threading.RLock()
        #: The same lock under its older name.
        self.lock = self.write_lock
        self._cursor_lock = threading.Lock()  # the cursors' bookkeeping
        # Each thread's cursor lives in a thread-local: it goes (and DuckDB closes it) when
        # its thread ends. ``_generation`` moves on when the cursors are released, so a thread
        # whose cursor was closed makes a new one.
        self._local = threading.local()
        self._generation = 0
        self._threads: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
        self._root = root
        self._open = threading.Event()  # cleared while the file is being swapped
        self._open.set()
        self._swapper: int | None = None
        self._issued: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
        if migrate and not read_only:
            self.migrate()
        if lake is not None and not read_only:
            from empatia.store.lake import attach

            with self.lock:
                attach(self.con, lake, os.path.abspath(self.path))

    def is_lake(self, table: str) -> bool:
        """Whether ``table`` lives in the lake (then the file holds a view of it)."""
        from empatia.store.lake import LAKE_TABLES

        return self.lake is not None and table in LAKE_TABLES

    # -- schema ---------------------------------------------------------------------------
    def versions(self) -> dict[str, int]:
        """Applied schema version per component (empty for a brand-new file)."""
        exists = self.con.execute(
            "select count(*) from information_schema.tables where table_name = 'schema_migrations'"
        ).fetchone()
        if not exists or not exists[0]:
            return {}
        rows = self.con.execute(
            "select component, max(version) from schema_migrations group by component"
        ).fetchall()
        return {c: int(v) for c, v in rows}

    def migrate(self, migrations: list[Migration] | None = None) -> list[Migration]:
        """Apply the migrations this file lacks; return what was applied."""
        migrations = discover_migrations() if migrations is None else migrations
        with self.lock:
            self.con.execute(
                "create table if not exists schema_migrations ("
                " component varchar not null, version integer not null, name varchar not null,"
                " applied_at timestamptz not null default now())"
            )
            have = self.versions()
            shipped: dict[str, int] = {}
            for m in migrations:
                shipped[m.component] = max(shipped.get(m.component, 0), m.version)
            for component, version in have.items():
                if version > shipped.get(component, 0):
                    raise SchemaTooNewError(
                        f"the store {self.path} has schema {component} v{version}, newer than "
                        f"this Empatia knows (v{shipped.get(component, 0)}); upgrade Empatia",
                        component=component,
                        version=version,
                    )
            applied = []
            for m in migrations:
                if m.version <= have.get(m.component, 0):
                    continue
                try:
                    self.con.execute("begin transaction")
                    self.con.execute(m.sql)
                    self.con.execute(
                        "insert into schema_migrations (component, version, name) values (?,?,?)",
                        [m.component, m.version, m.name],
                    )
                    self.con.execute("commit")
                except duckdb.Error as e:
                    self.con.execute("rollback")
                    raise StoreError(
                        f"migration {m.component}/{m.name} failed: {e}", migration=m.name
                    ) from e
                log.info("applied migration %s/%s", m.component, m.name)
                applied.append(m)
            return applied

    # -- connections ----------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection for the calling thread.

        A DuckDB connection refuses a call while another thread is inside one, so every
        thread (the CLI's, the server's event loop and request threads, its writer,
        background refreshes) gets its own cursor on the database, made on first use and
        kept for that thread. The root connection only makes cursors and closes the store.
        """
        self._wait_for_swap()
        mine: tuple[int, duckdb.DuckDBPyConnection] | None = getattr(self._local, "cur", None)
        if mine is not None and mine[0] == self._generation:
            return mine[1]
        with self._cursor_lock:
            cur = self._root.cursor()
            self._threads.add(cur)
            self._local.cur = (self._generation, cur)
        return cur

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the same database (close it after use). A file swap closes the
        ones still open."""
        self._wait_for_swap()
        cur = self._root.cursor()
        with self._cursor_lock:
            self._issued.add(cur)
        return cur

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived cursor of its own, closed when the block ends (even on an error).

        For reads from any thread: nothing is left open behind a request or a page.

        >>> with Store(":memory:") as s, s.read() as cur:
        ...     cur.execute("select count(*) from events").fetchone()
        (0,)
        """
        cur = self.cursor()
        try:
            yield cur
        finally:
            self._closed(cur)
            with self._cursor_lock:
                self._issued.discard(cur)

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on a cursor of its own, under this store's :attr:`write_lock`:
        committed when the block ends, rolled back on any error (the previous rows stay).

        >>> with Store(":memory:") as s:
        ...     with s.write() as cur:
        ...         _ = cur.execute("create table t (x integer)")
        ...         _ = cur.execute("insert into t values (1)")
        ...     s.con.execute("select count(*) from t").fetchone()
        (1,)
        """
        with self.write_lock, self.read() as cur, transaction(cur):
            yield cur

    def release_cursors(self, timeout: float = 0.0) -> bool:
        """Close every thread's cursor and every cursor :meth:`cursor` gave out (a thread's
        next call makes a new one).

        A cursor that is inside a call cannot be closed; it is retried for ``timeout``
        seconds. Returns whether every cursor was closed."""
        deadline = time.monotonic() + timeout
        with self._cursor_lock:
            self._generation += 1  # every thread makes a new cursor on its next call
            while True:
                for issued in (self._threads, self._issued):
                    for cur in list(issued):
                        if self._closed(cur):
                            issued.discard(cur)
                if not (self._threads or self._issued) or time.monotonic() >= deadline:
                    return not (self._threads or self._issued)
                time.sleep(0.01)

    @staticmethod
    def _closed(cur: duckdb.DuckDBPyConnection) -> bool:
        """Close ``cur``; False when it is inside a call (it stays open)."""
        try:
            cur.close()
        except duckdb.ResourceInUseException:  # inside a call: try again later
            return False
        except duckdb.Error:  # closed already
            pass
        return True

    @contextmanager
    def exclusive(self, timeout: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """The database to the calling thread alone, for swapping its file (:meth:`swap`).

        Other threads asking for a connection wait until the block ends; every thread's
        cursor is closed first (waiting up to ``timeout`` seconds for busy ones). Yields a
        cursor of the calling thread's own."""
        with self.lock:
            self._swapper = threading.get_ident()
            self._open.clear()
            try:
                if not self.release_cursors(timeout):
                    raise StoreError(
                        f"the store {self.path} stayed busy for {timeout:.0f} s; try again",
                        path=self.path,
                    )
                work = self._root.cursor()
                try:
                    yield work
                finally:
                    self._closed(work)
            finally:
                self._swapper = None
                self._open.set()

    def swap(
        self, fresh: Path, config: dict[str, Any], setup: Sequence[str] = (), timeout: float = 30.0
    ) -> None:
        """Inside :meth:`exclusive`: replace the database file by ``fresh`` and reopen it.

        A cursor someone still holds keeps the old database open after the root closes, and
        DuckDB would hand a new connection to that old (replaced) database. So a marker table
        is put into the old database first, and the file is reopened until the marker is
        gone — the connection then reads the new file. ``setup`` statements run on it."""
        marker = "_empatia_replaced_" + secrets.token_hex(4)
        self._root.execute(f"create table {marker} (x integer)")
        self._closed(self._root)
        os.replace(fresh, self.path)
        deadline = time.monotonic() + timeout
        while True:
            Path(self.path + ".wal").unlink(missing_ok=True)  # the old database's, if any
            con = duckdb.connect(self.path, config=config)
            old = con.execute(
                "select count(*) from information_schema.tables where table_name = ?", [marker]
            ).fetchone()
            if not (old and old[0]):
                for statement in setup:
                    con.execute(statement)
                with self._cursor_lock:
                    self._root = con
                return
            con.close()
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"a connection to the replaced store {self.path} stayed open; restart "
                    "the server", path=self.path
                )
            time.sleep(0.02)

    def _wait_for_swap(self) -> None:
        if not self._open.is_set() and threading.get_ident() != self._swapper:
            self._open.wait()

    def table_exists(self, name: str) -> bool:
        rows = self.con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [name]
        ).fetchall()  # no open result left on the cursor
        return bool(rows and rows[0][0])

    def checkpoint(self) -> None:
        self.con.execute("checkpoint")

    def close(self) -> None:
        with self.lock:
            self.release_cursors(timeout=5.0)
            self._closed(self._root)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _locked(path: str, pid: int | None) -> StoreLockedError:
    """Says what to do: the running server (its ``<db>.server.json``) is the way in."""
    server: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        server = json.loads(Path(path + ".server.json").read_text())
    url = server.get("url") if isinstance(server, dict) else None
    if url and (pid is None or server.get("pid") == pid):
        pid = server.get("pid", pid)
        return StoreLockedError(
            f"empatia serve (pid {pid}, {url}) owns this store: CLI commands and the "
            "Workspace's methods go through it; stop the server to open the store itself",
            path=path, pid=pid, url=url,
        )  # fmt: skip
    return StoreLockedError(
        f"the store {path} is in use by another process{f' (PID {pid})' if pid else ''}; "
        "wait for it to finish, or stop it",
        path=path, pid=pid,
    )  # fmt: skip
