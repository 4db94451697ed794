"""Erasure really erases: no table, no byte of the file keeps the person."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from empatia.ingest import import_files
from empatia.ingest.event import parse
from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy import tombstones
from empatia.privacy.compact import rewrite
from empatia.privacy.erasure import erase
from empatia.privacy.subjects import tables
from empatia.workspace import Workspace

from .conftest import ALA, BOB, write_jsonl

ALA_NEEDLES = [ALA["user_id"], ALA["anonymous_id"], ALA["email"], ALA["phone"], ALA["text"],
               "zlotykot"]  # fmt: skip


def occurrences(ws: Workspace, needle: str) -> list[str]:
    """Every table.column whose text holds ``needle``."""
    hits = []
    for table, columns in tables(ws.store).items():
        for col in columns:
            n = ws.store.con.execute(
                f'select count(*) from "{table}" where contains(lower("{col}"::varchar), lower(?))',
                [needle],
            ).fetchone()[0]  # type: ignore[index]
            if n:
                hits.append(f"{table}.{col}")
    return hits


def file_bytes(db: Path) -> bytes:
    data = db.read_bytes()
    wal = Path(str(db) + ".wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_world_holds_ala_everywhere_before(world: Workspace) -> None:
    assert len(occurrences(world, ALA["email"])) >= 4  # events, identities, profiles, traits …
    assert occurrences(world, ALA["user_id"])


def test_deleted_bytes_survive_checkpoint_and_vacuum_without_rewrite(tmp_path: Path) -> None:
    """Why erasure rewrites the file: DuckDB leaves deleted rows' bytes in freed blocks."""
    db = tmp_path / "d.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table t as select 'keep-me' as a union all select 'secret-zq81@x.io'")
    con.execute("checkpoint")
    con.execute("delete from t where a like 'secret%'")
    con.execute("checkpoint")
    con.execute("vacuum t")
    con.execute("checkpoint")
    con.close()
    assert b"secret-zq81@x.io" in db.read_bytes()


def test_erase_removes_person_from_every_table_and_the_file(world: Workspace) -> None:
    db = Path(world.store.path)
    world.store.checkpoint()
    assert ALA["email"].encode() in file_bytes(db)
    report = erase(world.store, "email:" + ALA["email"])
    assert report.rewritten
    assert report.deleted["events"] == 4
    assert {"identities", "profiles", "consent_events", "text_analysis"} <= set(report.deleted)
    for needle in ALA_NEEDLES:
        assert occurrences(world, needle) == [], needle
    world.close()
    raw = file_bytes(db)
    for needle in ALA_NEEDLES:
        assert needle.encode() not in raw, needle
    # Bob is untouched, except that Ala's e-mail inside his message is blanked.
    ws = Workspace(db=db)
    try:
        assert occurrences(ws, BOB["email"])
        assert occurrences(ws, "bluebirdsong")
        assert occurrences(ws, "[erased]") == ["events.raw"]
        assert ws.store.con.execute("select nextval('events_seq')").fetchone()[0] > 7  # type: ignore[index]
    finally:
        ws.close()


def test_tombstones_are_salted_hashes_not_identifiers(world: Workspace) -> None:
    erase(world.store, ALA["user_id"], rewrite_file=False)
    hashes = [r[0] for r in world.store.con.execute("select hash from privacy_tombstones").fetchall()]
    assert len(hashes) >= 5 and all(len(h) == 64 for h in hashes)
    salt = tombstones.salt(world.store)
    assert tombstones.digest(salt, "email", ALA["email"]) in hashes
    assert tombstones.digest("", "email", ALA["email"]) not in hashes
    assert tombstones.is_erased(world.store, user_id=ALA["user_id"])
    assert not tombstones.is_erased(world.store, user_id=BOB["user_id"])


def test_later_events_of_erased_people_are_dropped(world: Workspace, tmp_path: Path) -> None:
    erase(world.store, ALA["user_id"])
    ring = tombstones.TombstoneSet(world.store)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = [
        parse({"userId": ALA["user_id"], "event": "X"}, "{}", "track", 999, now, "m1", "k"),
        parse({"anonymousId": ALA["anonymous_id"], "event": "X"}, "{}", "track", 999, now, "m2", "k"),
        parse({"userId": BOB["user_id"], "event": "X"}, "{}", "track", 999, now, "m3", "k"),
    ]
    assert [r.user_id for r in ring.filter(rows)] == [BOB["user_id"]]
    # The importer's hook, and the stage's backstop through identifiers (a new device, same e-mail).
    late = [
        {"type": "track", "userId": ALA["user_id"], "event": "Back", "messageId": "late1"},
        {"type": "identify", "anonymousId": "new-device-1", "messageId": "late2",
         "traits": {"email": ALA["email"]}},
        {"type": "track", "userId": BOB["user_id"], "event": "Still here", "messageId": "late3"},
    ]  # fmt: skip
    before = world.store.con.execute("select max(seq) from events").fetchone()[0]  # type: ignore[index]
    report = import_files(world.store, [write_jsonl(tmp_path / "late.jsonl", late)])
    assert report.files[0].erased == 2  # the importer's hook: the user id, and the e-mail too
    assert tombstones.drop_erased_events(world.store, before) == 0
    run_pipeline(RunContext(world), only=("identity", "privacy"))
    assert occurrences(world, ALA["email"]) == []
    assert occurrences(world, "Still here") == ["events.event", "events.raw"]


def test_erase_unknown_subject_is_not_found(world: Workspace) -> None:
    from empatia.errors import NotFoundError

    with pytest.raises(NotFoundError):
        erase(world.store, "email:nobody@nowhere.example")


def test_rewrite_keeps_sequences_views_and_keys(world: Workspace) -> None:
    from empatia.privacy.keys import create_key

    create_key(world.store, "read", "r")
    n = world.store.con.execute("select count(*) from events").fetchone()[0]  # type: ignore[index]
    assert rewrite(world.store)
    assert world.store.con.execute("select count(*) from events").fetchone()[0] == n  # type: ignore[index]
    assert world.store.con.execute("select count(*) from api_keys").fetchone()[0] == 1  # type: ignore[index]
    assert world.store.con.execute("select count(*) from consent_current").fetchone()[0] >= 3  # type: ignore[index]


def test_erase_many_rewrites_once(world: Workspace) -> None:
    from empatia.privacy.erasure import erase_many

    reports = erase_many(world.store, [ALA["user_id"], "email:" + BOB["email"]])
    assert all(r.rewritten for r in reports)
    assert world.store.con.execute("select count(*) from events").fetchone()[0] == 0  # type: ignore[index]
    assert world.store.con.execute("select count(*) from profiles").fetchone()[0] == 0  # type: ignore[index]
