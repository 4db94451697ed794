"""Which people an incremental stage must recompute (empatia.store.changes)."""

from __future__ import annotations

from empatia.store import Store
from empatia.store.changes import IDENTITIES, changed_persons, save_marks


def _people(s: Store, rows: list[tuple[int, str]]) -> None:
    s.con.execute("delete from event_persons")
    s.con.executemany("insert into event_persons (seq, person_id) values (?, ?)", rows)


def test_new_events_merges_and_gone_people_are_changed_others_not() -> None:
    with Store(":memory:") as s:
        _people(s, [(1, "a"), (2, "a"), (3, "b"), (4, "c"), (5, "d")])
        first = changed_persons(s.con, "t", "v1")
        assert first.full == "first run"
        save_marks(s.con, first)
        assert changed_persons(s.con, "t", "v1").persons == []
        # a new event of a, c absorbed by b (a merge), d gone (erased), e new
        _people(s, [(1, "a"), (2, "a"), (6, "a"), (3, "b"), (4, "b"), (7, "e")])
        changes = changed_persons(s.con, "t", "v1")
        assert changes.full is None
        assert sorted(changes.persons) == ["a", "b", "c", "d", "e"]
        save_marks(s.con, changes)
        assert changed_persons(s.con, "t", "v1").persons == []
        assert changed_persons(s.con, "t", "v2").full == "settings changed"
        assert changed_persons(s.con, "t", "v1", full=True).full == "full"
        # identifiers count only for a stage that asks for them
        save_marks(s.con, changed_persons(s.con, "u", "v1", also=(IDENTITIES,)))
        s.con.execute("insert into identities (kind, value, person_id) values ('email', 'x', 'b')")
        assert changed_persons(s.con, "t", "v1").persons == []
        assert changed_persons(s.con, "u", "v1", also=(IDENTITIES,)).persons == ["b"]


def test_an_erasure_since_the_last_run_rebuilds_everything() -> None:
    with Store(":memory:") as s:
        _people(s, [(1, "a")])
        save_marks(s.con, changed_persons(s.con, "t", "v1"))
        s.con.execute("insert into privacy_audit (actor, action) values ('cli', 'erase')")
        assert changed_persons(s.con, "t", "v1").full == "erasure since"


def test_an_engine_that_rebuilds_whole_tables_reads_no_one_s_events_and_keeps_no_marks() -> None:
    """Spark, and any engine on a lake, rebuilds whole tables: the marks would be read (every
    person's events, in the driver's DuckDB) and written for nothing. A later incremental run
    (DuckDB on the one-file store) rebuilds in full first, as it cannot trust old marks."""
    with Store(":memory:") as s:
        _people(s, [(1, "a"), (2, "b")])
        save_marks(s.con, changed_persons(s.con, "t", "v1"))
        s.con.execute("create table kept as select * from event_persons")
        s.con.execute("drop table event_persons")
        s.con.execute("create view event_persons as select error('read') as seq,"
                      " 'x' as person_id")  # fmt: skip
        changes = changed_persons(s.con, "t", "v1", also=(IDENTITIES,), incremental=False)
        assert changes.full == "full"
        save_marks(s.con, changes)
        assert s.con.execute("select count(*) from person_marks").fetchone() == (0,)
        s.con.execute("drop view event_persons")
        s.con.execute("create table event_persons as select * from kept")
        assert changed_persons(s.con, "t", "v1").full == "first run"
