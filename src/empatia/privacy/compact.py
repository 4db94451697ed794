"""Making deleted bytes leave the database file.

DuckDB marks deleted rows and frees their blocks, but a freed block keeps its old bytes until
it is reused — a ``CHECKPOINT``, ``VACUUM`` or even ``CREATE OR REPLACE TABLE`` leaves an
erased e-mail readable with ``grep`` (``tests/privacy/test_erasure.py`` shows it). So after an
erasure the store is copied into a fresh file (``COPY FROM DATABASE``: tables, views,
sequences with their current values, indexes) that replaces the old one atomically.

Meanwhile other threads wait for the store (:meth:`Store.exclusive`): every cursor on the old
file is closed, and ``store.con`` gives each thread a new one afterwards.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from empatia.errors import StoreError
from empatia.store import Store, state

log = logging.getLogger(__name__)

#: Set in ``privacy_state`` by the transaction that deletes personal data; cleared in the
#: fresh copy, so it stays set until the rewritten file has replaced the old one.
PENDING = "rewrite_pending"


def finish_pending(store: Store) -> bool:
    """Rewrite the file if an erasure committed but was stopped before its rewrite (a crash,
    a kill): the deleted bytes would otherwise stay on disk. True when one was pending.

    Runs whenever a workspace opens its store for writing, and before each erasure."""
    if store.path == ":memory:" or store.read_only:
        return False
    if state.get(store.con, "privacy_state", PENDING) is None:
        for stray in (".rewrite", ".rewrite.wal"):  # a copy that never got swapped in
            Path(store.path + stray).unlink(missing_ok=True)
        return False
    log.warning("finishing an interrupted erasure: rewriting the store file")
    if store.lake is not None:  # and deleting the lake's files that still hold the person
        from empatia.store.lake import forget

        forget(store.con, store.lake)
    rewrite(store)
    return True


def rewrite(store: Store) -> bool:
    """Copy the store into a fresh file and swap it in; False for in-memory stores."""
    if store.path == ":memory:" or store.read_only:
        return False
    path = Path(store.path)
    fresh = path.with_name(path.name + ".rewrite")
    with store.exclusive() as con:
        settings = dict(
            con.execute(
                "select name, value from duckdb_settings()"
                " where name in ('memory_limit', 'threads', 'checkpoint_threshold')"
            ).fetchall()
        )
        fresh.unlink(missing_ok=True)
        Path(str(fresh) + ".wal").unlink(missing_ok=True)
        db = con.execute("select current_database()").fetchone()[0]  # type: ignore[index]
        try:
            con.execute("checkpoint")
            con.execute(f"attach '{_lit(str(fresh))}' as _empatia_fresh")
            try:
                con.execute(f'copy from database "{db}" to _empatia_fresh')
                con.execute("delete from _empatia_fresh.privacy_state where key = ?", [PENDING])
            finally:
                con.execute("detach _empatia_fresh")
        except duckdb.Error as e:
            fresh.unlink(missing_ok=True)
            raise StoreError(f"could not rewrite the store: {e}", path=store.path) from e
        config = {k: str(v) for k, v in settings.items() if k in ("memory_limit", "threads")}
        setup = [f"set checkpoint_threshold = '{v}'" for k, v in settings.items()
                 if k == "checkpoint_threshold"]  # fmt: skip
        con.close()  # an open cursor would keep the old database alive
        store.swap(fresh, config, setup)
    log.info("store rewritten to drop deleted bytes")
    return True


def _lit(s: str) -> str:
    return s.replace("'", "''")
