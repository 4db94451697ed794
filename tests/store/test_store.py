"""The store upgrades old files, refuses files from the future, and explains a held lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from empatia.errors import SchemaTooNewError, StoreLockedError
from empatia.store import Store
from empatia.store.store import Migration, discover_migrations


def test_an_old_file_is_upgraded_when_a_newer_empatia_opens_it(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    shipped = discover_migrations()
    old = [m for m in shipped if m.component == "store"]  # a file from before ingest existed
    with Store(db, migrate=False) as s:
        s.migrate(old)
        s.con.execute("insert into api_keys (key_id, name, scope, secret_hash) values ('k','n','write','h')")
        assert not s.table_exists("events")
    with Store(db) as s:  # the current package
        assert s.table_exists("events")
        assert s.versions() == {m.component: max(x.version for x in shipped if x.component == m.component)
                                for m in shipped}
        assert s.con.execute("select count(*) from api_keys").fetchone() == (1,)  # data kept
    future = Migration("store", 999, "0999_future.sql", "create table future (x int)")
    with Store(db, migrate=False) as s:
        s.migrate([*shipped, future])
    with pytest.raises(SchemaTooNewError, match="upgrade Empatia"):
        Store(db)


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    last = max(m.version for m in discover_migrations() if m.component == "store")
    name = f"{last + 1:04d}_bad.sql"
    bad = Migration("store", last + 1, name, "create table ok (x int); select * from missing;")
    with Store(db) as s:
        with pytest.raises(Exception, match=name):
            s.migrate([*discover_migrations(), bad])
        assert not s.table_exists("ok")
        assert s.versions()["store"] == last


def test_a_store_held_by_another_process_says_so(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    with subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,sys,time; c=duckdb.connect({str(db)!r}); print('ok',flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    ) as holder:  # fmt: skip  (leaving the block closes its pipe)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
            with pytest.raises(StoreLockedError, match="in use by another process"):
                Store(db)
        finally:
            holder.kill()


def test_threads_can_query_the_store_at_the_same_time(tmp_path: Path) -> None:
    """A DuckDB connection refuses a call while another thread is inside one; the server's
    request threads, writer and background refreshes all use ``store.con`` at once."""
    import threading

    s = Store(tmp_path / "busy.duckdb")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work() -> None:
        try:
            start.wait()
            for _ in range(20):
                s.con.execute("select count(*) from range(2000000)").fetchone()
                assert s.table_exists("events")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.close()
    assert errors == []
    with Store(tmp_path / "busy.duckdb") as again:  # closing released every thread's cursor
        assert again.table_exists("events")


def test_a_file_swap_waits_for_busy_threads_and_nothing_written_after_it_is_lost(
    tmp_path: Path,
) -> None:
    """The erasure rewrite swaps the database file while the server's threads read: they
    wait and go on, and what is written afterwards lands in the new file (a cursor left open
    on the old database would otherwise keep it alive and take the writes). A thread that
    took its cursor just before the swap closed it sees one "connection closed" error (a
    request answered 503) and its next call gets a new cursor."""
    import threading

    import duckdb

    from empatia.privacy.compact import rewrite

    path = tmp_path / "swap.duckdb"
    s = Store(path)
    s.con.execute("create table notes (n integer)")
    s.con.execute("insert into notes values (1)")
    kept = s.cursor()  # as the decision engine or a key ring holds one
    errors: list[BaseException] = []
    after: list[int] = []
    stop, swapped = threading.Event(), threading.Event()

    def reader() -> None:
        closed = 0
        try:
            while not stop.is_set() or not after:
                try:
                    s.con.execute("select count(*) from range(300000)").fetchone()
                except (duckdb.ConnectionException, duckdb.InvalidInputException):
                    # closed before its call, or between its execute and its fetch
                    closed += 1
                    assert closed == 1, "only a cursor taken just before the swap"
                    continue
                if swapped.is_set():
                    after.append(1)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        assert rewrite(s)
        swapped.set()
        s.con.execute("insert into notes values (2)")
    finally:
        swapped.set()
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    with pytest.raises(Exception, match="closed"):
        kept.execute("select 1")  # the swap closed it: its holder must take a new one
    s.close()
    with Store(path) as again:
        assert again.con.execute("select list(n order by n) from notes").fetchone() == ([1, 2],)


def test_a_read_cursor_is_closed_when_its_block_ends_even_on_an_error() -> None:
    s = Store(":memory:")
    with s.read() as cur:
        assert cur.execute("select count(*) from events").fetchone() == (0,)
    with pytest.raises(duckdb.ConnectionException):
        cur.execute("select 1")
    with pytest.raises(ZeroDivisionError), s.read() as cur2:
        1 / 0  # noqa: B018
    with pytest.raises(duckdb.ConnectionException):
        cur2.execute("select 1")
    s.close()


def test_an_error_inside_a_write_rolls_it_back_and_leaves_the_previous_rows() -> None:
    s = Store(":memory:")
    with s.write() as cur:
        cur.execute("create table t (x integer)")
        cur.execute("insert into t values (1), (2)")
    with pytest.raises(duckdb.Error), s.write() as cur:
        cur.execute("delete from t")
        cur.execute("insert into t values ('not a number')")
    assert s.con.execute("select x from t order by x").fetchall() == [(1,), (2,)]
    with s.write() as cur:  # the store is usable afterwards
        cur.execute("insert into t values (3)")
    assert s.con.execute("select count(*) from t").fetchone() == (3,)
    s.close()


def test_each_store_has_its_own_write_lock(tmp_path: Path) -> None:
    """Two workspaces in one process never wait for each other's writes."""
    import threading

    a, b = Store(tmp_path / "a.duckdb"), Store(tmp_path / "b.duckdb")
    assert a.write_lock is not b.write_lock
    done = threading.Event()
    with a.write_lock:  # held, e.g., by a long run of workspace a
        t = threading.Thread(target=lambda: (b.write_lock.acquire(), done.set(), b.write_lock.release()))
        t.start()
        assert done.wait(5), "b waited for a's lock"
        t.join()
    a.close()
    b.close()


def test_the_people_marks_keep_no_index_in_memory_and_an_old_file_s_marks_are_kept(tmp_path: Path) -> None:
    # a key's index lives in memory: on a 100k world the marks' one grew the process that runs
    # the stages (a Spark driver too) by ≈ 100 MB; an old file's marks survive the upgrade
    db = tmp_path / "old.duckdb"
    with Store(db, migrate=False) as s:
        s.migrate([m for m in discover_migrations() if m.component == "store" and m.version <= 2])
        s.con.execute("insert into person_marks values ('journeys', 'p1', 7), ('profiles', 'p1', 8)")
    with Store(db) as s:
        assert s.con.execute("select * from person_marks order by stage").fetchall() == [
            ("journeys", "p1", 7), ("profiles", "p1", 8)]
        assert s.con.execute("select count(*) from duckdb_indexes() where table_name = 'person_marks'"
                             " union all select count(*) from duckdb_constraints() where table_name"
                             " = 'person_marks' and constraint_type in ('PRIMARY KEY', 'UNIQUE')"
                             ).fetchall() == [(0,), (0,)]  # fmt: skip
