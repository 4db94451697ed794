"""Erasure under careless and hostile use (issue #13, findings 1, 4, 5, 6, 10).

Erasing nobody changes nothing; whole words only are blanked; a kill -9 at any step of
erasure leaves no erased byte in any file once the store is opened again; an erased person
who comes back under another identifier (any case, another phone format) is not stored.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from empatia.api.app import create_app
from empatia.cli import app as cli
from empatia.errors import NotFoundError, ValidationError
from empatia.ingest import import_files
from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy.access import export_subject
from empatia.privacy.erasure import erase
from empatia.privacy.keys import create_key
from empatia.privacy.subjects import tables
from empatia.workspace import Workspace

from .conftest import ALA, BOB, write_jsonl

#: Bytes of Ala that must not be found in any file once she is erased.
NEEDLES = [ALA["user_id"], ALA["anonymous_id"], ALA["email"], ALA["phone"], "zlotykot",
           "LOY-ALA-99812", "Kowalska"]  # fmt: skip


def checksum(ws: Workspace) -> dict[str, str]:
    """Every table's content, as one digest per table."""
    out = {}
    for table in tables(ws.store):
        row = ws.store.con.execute(
            f'select count(*), md5(coalesce(string_agg(t::varchar, \'|\' order by t::varchar), \'\'))'
            f' from "{table}" t'
        ).fetchone()
        out[table] = f"{row[0]}:{row[1]}"  # type: ignore[index]
    return out


def scan(folder: Path, needles: list[str] = NEEDLES) -> list[str]:
    """``file: needle`` for every needle found in any file the product wrote under ``folder``
    (the ``*.jsonl`` files the tests import are the user's own input), as a whole word: Bob's
    code ``LOY-ALA-998123`` is his, not Ala's ``LOY-ALA-99812``."""
    hits = []
    for f in sorted(folder.rglob("*")):
        if f.is_file() and (not f.name.endswith(".jsonl") or f.name.endswith(".rejects.jsonl")):
            data = f.read_bytes()
            hits += [f"{f.name}: {n}" for n in needles if re.search(
                rb"(?<![\w@+\-])" + re.escape(n.encode()) + rb"(?![\w@+\-])", data, re.I)]
    return hits


def more_events() -> list[dict[str, object]]:
    """Ala's loyalty id and full name; a Thomas and a 'context' that bare values must not hit;
    Bob naming Ala by name in a message, and a word that merely contains her loyalty id."""
    t = "2026-10-05T10:00:00Z"
    return [
        {"type": "identify", "userId": ALA["user_id"], "messageId": "a9", "timestamp": t,
         "traits": {"loyaltyId": "LOY-ALA-99812", "firstName": "Ala", "lastName": "Kowalska"}},
        {"type": "identify", "userId": "u-thomas-1", "messageId": "t1", "timestamp": t,
         "traits": {"firstName": "Thomas", "lastName": "Berg", "email": "thomas.berg@example.net"}},
        {"type": "track", "userId": BOB["user_id"], "event": "Message Sent", "messageId": "b9",
         "timestamp": t, "properties": {"text": "Ala Kowalska told me about you; code "
                                                "LOY-ALA-998123 did not work, ask Thomas"}},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def rich_template(world_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rich")
    shutil.copy(world_template, d / "w.duckdb")
    with Workspace(db=d / "w.duckdb") as ws:
        import_files(ws.store, [write_jsonl(d / "more.jsonl", more_events())])
        run_pipeline(RunContext(ws), only=("identity", "profiles", "privacy"))
        ws.store.checkpoint()
    return d / "w.duckdb"


@pytest.fixture
def rich(rich_template: Path, tmp_path: Path) -> Iterator[Workspace]:
    """The two-person world, plus Ala's loyalty id and full name, a Thomas, and Bob naming her."""
    shutil.copy(rich_template, tmp_path / "w.duckdb")
    ws = Workspace(db=tmp_path / "w.duckdb")
    yield ws
    ws.close()


# -- 1: erasing nobody changes nothing; whole words only -------------------------------------
@pytest.mark.parametrize("query", ["x", "Thomas", "q", "0", "context", "p_nobody",
                                   "loyalty_id:LOY-ALA", "email:nobody@example.com"])  # fmt: skip
def test_erasing_an_id_that_names_nobody_changes_nothing(rich: Workspace, query: str) -> None:
    before = checksum(rich)
    mtime = os.stat(rich.store.path).st_mtime_ns
    with pytest.raises(NotFoundError):
        erase(rich.store, query)
    assert checksum(rich) == before
    assert os.stat(rich.store.path).st_mtime_ns == mtime  # not rewritten either


def test_a_value_that_cannot_be_its_kind_is_a_clear_error(rich: Workspace) -> None:
    with pytest.raises(ValidationError, match="not a valid phone"):
        erase(rich.store, "phone:x")


def test_erasure_blanks_whole_words_in_others_rows_and_export_shows_them(rich: Workspace) -> None:
    data = export_subject(rich.store, "user_id:" + ALA["user_id"])
    named = [m for m in data["mentions"] if "Ala Kowalska told me" in m["text"]]
    assert named and named[0]["table"] == "events"
    report = erase(rich.store, "user_id:" + ALA["user_id"])
    assert report.blanked["events"] >= 2  # Bob's two messages naming her
    text = rich.store.con.execute(
        "select json_extract_string(raw, '$.properties.text') from events where message_id = 'b9'"
    ).fetchone()[0]  # type: ignore[index]
    # Her name is gone; a longer code that contains her loyalty id and another name stay.
    assert text == "[erased] told me about you; code LOY-ALA-998123 did not work, ask Thomas"
    thomas = rich.store.con.execute(
        "select raw from events where message_id = 't1'").fetchone()[0]  # type: ignore[index]
    assert '"firstName": "Thomas"' in thomas and "[erased]" not in thomas
    assert "[erased]" not in "".join(r[0] for r in rich.store.con.execute(
        "select raw from events where message_id <> 'b9' and message_id <> 'b3'").fetchall())


def test_cli_shows_what_it_will_erase_and_refuses_nobody(rich: Workspace) -> None:
    db = rich.store.path
    rich.close()
    p = subprocess.run([sys.executable, "-m", "empatia.cli", "--db", db, "subject", "erase", "x",
                        "--yes"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 1 and "no person" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) <= 2
    r = CliRunner()
    out = r.invoke(cli, ["--db", db, "subject", "erase", "user_id:" + ALA["user_id"]], input="n\n")
    assert out.exit_code != 0
    assert "events" in out.output and "blanked" in out.output  # the plan, before the question
    with Workspace(db=db) as ws:
        assert ws.store.con.execute(
            "select count(*) from events where user_id = ?", [ALA["user_id"]]).fetchone()[0] == 5  # type: ignore[index]


def test_http_erase_of_nobody_is_404_and_changes_nothing(rich: Workspace) -> None:
    _, admin = create_key(rich.store, "admin", "a")
    before = checksum(rich)
    with TestClient(create_app(rich)) as c:
        for q in ("q", "0", "Thomas"):
            r = c.delete(f"/v1/subjects/{q}", headers={"Authorization": f"Bearer {admin}"})
            assert r.status_code == 404, (q, r.text)
        r = c.delete(f"/v1/subjects/user_id:{ALA['user_id']}?dry_run=true",
                     headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
        assert r.status_code == 200 and r.json()["deleted"]["events"] == 5
    # The audit log records the attempts; the tombstone salt is made on first use.
    after, same = checksum(rich), lambda d: {t: v for t, v in d.items()
                                             if t not in ("privacy_audit", "privacy_state")}
    assert same(after) == same(before)


# -- 4: a kill -9 at any step of erasure, then any open, leaves nothing on disk -------------
_CRASH = """
import os, signal, sys
from empatia.privacy import compact, erasure
from empatia.store import store as store_mod
from empatia.workspace import Workspace

step = sys.argv[2]
def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
if step == "after-commit":
    erasure.rewrite = die
elif step == "after-copy":
    store_mod.Store.swap = die
elif step == "after-replace":
    real = os.replace
    def replace(a, b):
        real(a, b)
        die()
    store_mod.os.replace = replace
ws = Workspace(db=sys.argv[1])
erasure.erase(ws.store, "user_id:u-ala-7781")
"""


@pytest.mark.parametrize("step", ["after-commit", "after-copy", "after-replace"])
def test_kill9_at_each_step_of_erasure_leaves_no_byte(rich: Workspace, tmp_path: Path, step: str) -> None:  # noqa: E501
    folder = Path(rich.store.path).parent
    db = rich.store.path
    rich.close()
    assert scan(folder)  # she is there before
    p = subprocess.run([sys.executable, "-c", _CRASH, db, step], capture_output=True, timeout=120)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    with Workspace(db=db) as ws:  # any open finishes the interrupted erasure
        assert ws.store.con.execute(
            "select count(*) from events where user_id = ?", [ALA["user_id"]]).fetchone()[0] == 0  # type: ignore[index]
        assert ws.store.con.execute("select count(*) from events").fetchone()[0] > 0  # type: ignore[index]
    assert scan(folder) == []
    assert not list(folder.glob("*.rewrite*"))


# -- 5: an erased person who comes back under another identifier -----------------------------
def comeback() -> list[dict[str, object]]:
    return [
        {"type": "identify", "anonymousId": "fresh-device-1", "messageId": "c1",
         "traits": {"email": ALA["email"].upper()}},
        {"type": "identify", "anonymousId": "fresh-device-2", "messageId": "c2",
         "traits": {"loyaltyId": "loy-ala-99812"}},
        {"type": "identify", "anonymousId": "fresh-device-3", "messageId": "c3",
         "traits": {"phone": "0048 601-234-567"}},
        {"type": "track", "anonymousId": "fresh-device-4", "event": "Signed Up", "messageId": "c4",
         "context": {"traits": {"email": " " + ALA["email"] + " "}}},
        {"type": "track", "userId": BOB["user_id"], "event": "Still here", "messageId": "c5"},
    ]  # fmt: skip


def test_comeback_under_other_identifiers_is_dropped_on_import_and_http(rich: Workspace, tmp_path: Path) -> None:  # noqa: E501
    erase(rich.store, "email:" + ALA["email"])
    report = import_files(rich.store, [write_jsonl(tmp_path / "back.jsonl", comeback())])
    assert (report.files[0].erased, report.files[0].accepted) == (4, 1)
    _, write = create_key(rich.store, "write", "site")
    with TestClient(create_app(rich)) as c:
        for i, ev in enumerate(comeback()):
            ev = {**ev, "messageId": f"h{i}"}
            assert c.post(f"/v1/{ev['type']}", json=ev, auth=(write, "")).status_code == 200
    n = rich.store.con.execute("select count(*) from events where anonymous_id like 'fresh-%'").fetchone()[0]  # type: ignore[index]
    assert n == 0
    run_pipeline(RunContext(rich), only=("identity", "profiles", "privacy"))
    rich.store.checkpoint()
    db = Path(rich.store.path)
    rich.close()
    assert scan(db.parent, [ALA["email"], "LOY-ALA-99812", "601234567", "fresh-device"]) == []


# -- 6: import reject files hold no personal payload -----------------------------------------
def test_reject_files_hold_line_and_reason_only(tmp_path: Path) -> None:
    ws = Workspace(db=tmp_path / "r.duckdb")
    bad = [{"type": "track", "userId": ALA["user_id"], "messageId": "r1",
            "properties": {"email": ALA["email"]}},  # no event name: rejected
           {"type": "track", "event": "Ok", "userId": "u2", "messageId": "r2"}]  # fmt: skip
    report = import_files(ws.store, [write_jsonl(tmp_path / "in.jsonl", bad)])
    ws.close()
    assert report.rejected == 1
    rejects = Path(report.files[0].reject_file or "").read_text()
    assert ALA["email"] not in rejects and ALA["user_id"] not in rejects
    line = json.loads(rejects.splitlines()[0])
    assert line["line"] == 1 and line["reason"]


# -- 10: export and erasure agree, and say what they could not settle -----------------------
def test_export_lists_exactly_the_cells_erasure_blanks(rich: Workspace) -> None:
    data = export_subject(rich.store, "email:" + ALA["email"])
    shown = {(m["table"], m["column"], m["row"]) for m in data["mentions"]}
    report = erase(rich.store, "email:" + ALA["email"], rewrite_file=False)
    assert sum(report.blanked.values()) == len(shown) >= 2
    assert "unresolved" in data and isinstance(report.unresolved, list)


def test_no_file_the_product_wrote_keeps_her_after_cli_erasure(rich: Workspace, tmp_path: Path) -> None:  # noqa: E501
    """Database, WAL, reject files, the server file: every file under the store's folder."""
    folder = Path(rich.store.path).parent
    bad = [{"type": "track", "userId": ALA["user_id"], "messageId": "z1"}]  # rejected: no name
    import_files(rich.store, [write_jsonl(folder / "bad.jsonl", bad)])
    (folder / "bad.jsonl").unlink()  # the user's own input is theirs, not ours
    db = rich.store.path
    rich.close()
    out = CliRunner().invoke(cli, ["--db", db, "subject", "erase", "email:" + ALA["email"], "--yes"])
    assert out.exit_code == 0, out.output
    assert scan(folder) == []


def test_exports_the_product_wrote_lose_her_too(rich: Workspace) -> None:
    """A partner export (CSV and Parquet) and her own access export in the store's folder: after
    erasure no byte of her is in any of them, and the partner files keep everyone else."""
    from empatia.privacy.partner_export import Contract, export_partner

    folder = Path(rich.store.path).parent
    (folder / "c.toml").write_text('name = "acme"\nsource = "profiles"\n'
                                   'fields = ["person_id", "first_name", "email"]\nredact = false\n')  # fmt: skip
    c = Contract.load(folder / "c.toml")
    rich.store.con.execute("insert into consent_ledger (person_id, purpose, granted, source,"
                           " decided_at) select person_id, 'partner_sharing', true, 'test', now()"
                           " from profiles")  # fmt: skip
    for name, fmt in (("p.csv", "csv"), ("p.parquet", "parquet")):
        assert export_partner(rich.store, c, folder / name, fmt=fmt).rows == 3  # Ala, Bob, Thomas
    db = rich.store.path
    rich.close()
    r = CliRunner()
    out = r.invoke(cli, ["--db", db, "subject", "export", "email:" + ALA["email"],
                         "--zip", str(folder / "ala.zip")])  # fmt: skip
    assert out.exit_code == 0, out.output
    before = scan(folder, [ALA["email"]])
    assert {"p.csv: " + ALA["email"], "p.parquet: " + ALA["email"]} <= set(before)
    out = r.invoke(cli, ["--db", db, "subject", "erase", "email:" + ALA["email"], "--yes"])
    assert out.exit_code == 0, out.output
    assert "1 row(s) removed" in out.output and "deleted" in out.output
    assert scan(folder) == [] and not (folder / "ala.zip").exists()
    import duckdb

    con = duckdb.connect()
    for name in ("p.csv", "p.parquet"):
        emails = {r[0] for r in con.execute(f"select email from '{folder / name}'").fetchall()}
        assert emails == {BOB["email"], "thomas.berg@example.net"}, name
        assert ALA["email"] not in str(con.execute(f"select * from '{folder / name}'").fetchall())


def test_the_same_words_written_by_someone_else_stay(rich: Workspace, tmp_path: Path) -> None:
    """Template texts ("Produkt zgodny z opisem.") are the other customer's own words."""
    same = [{"type": "track", "userId": uid, "event": "Review Submitted", "messageId": f"s-{uid}",
             "properties": {"text": "Produkt zgodny z opisem, polecam sklep.", "rating": 5}}
            for uid in (ALA["user_id"], BOB["user_id"])]  # fmt: skip
    import_files(rich.store, [write_jsonl(tmp_path / "same.jsonl", same)])
    report = erase(rich.store, "user_id:" + ALA["user_id"], rewrite_file=False)
    assert "Produkt zgodny z opisem" in rich.store.con.execute(
        "select raw from events where message_id = ?", [f"s-{BOB['user_id']}"]).fetchone()[0]  # type: ignore[index]
    assert report.blanked.get("events", 0) == 2  # only Bob's two messages that name her


def test_erasure_before_any_run_finds_every_event_and_id(tmp_path: Path) -> None:
    """Before `empatia run` nothing is stitched: the e-mail still leads to her identify event,
    its userId to her other events, and every id on them gets a tombstone."""
    ws = Workspace(db=tmp_path / "fresh.duckdb")
    events = [
        {"type": "identify", "userId": "u-1", "messageId": "f1",
         "traits": {"email": "ala@kot.pl", "phone": "+48 601 234 567", "firstName": "Ala"}},
        {"type": "track", "userId": "u-1", "event": "Review Submitted", "messageId": "f2",
         "properties": {"text": "Produkt zgodny z opisem."}},
        {"type": "track", "userId": "u-2", "event": "Review Submitted", "messageId": "f3",
         "properties": {"text": "Produkt zgodny z opisem."}},
    ]  # fmt: skip
    import_files(ws.store, [write_jsonl(tmp_path / "in.jsonl", events)])
    report = erase(ws.store, "email:ala@kot.pl")
    assert report.deleted["events"] == 2 and report.blanked == {}
    left = [r[0] for r in ws.store.con.execute("select message_id from events").fetchall()]
    assert left == ["f3"]
    back = [{"type": "track", "anonymousId": "anon-77", "event": "Hi", "messageId": "b1",
             "properties": {"email": "ALA@kot.pl"}},
            {"type": "track", "userId": "u-1", "event": "Hi", "messageId": "b2"},
            {"type": "identify", "anonymousId": "anon-78", "messageId": "b3",
             "traits": {"phone": "0048601234567"}}]  # fmt: skip
    assert import_files(ws.store, [write_jsonl(tmp_path / "back.jsonl", back)]).files[0].erased == 3
    ws.close()
