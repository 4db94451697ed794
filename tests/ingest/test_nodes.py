"""Several ingest nodes, one lake (empatia.ingest.nodes, empatia.store.lake): every node's
events reach the lake once, none replaces another's, and the store that owns the lake's event
log gathers them all — also across a kill -9 — and erases a person from all of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from empatia.errors import IngestNodeError
from empatia.pipeline import RunContext, run_pipeline
from empatia.workspace import Workspace

pytest.importorskip("deltalake")


def lake_workspace(db: Path, lake: Path) -> Workspace:
    return Workspace(db=db, store={"kind": "lake", "uri": str(lake)})


def send(ws: Workspace, folder: Path, *users: str, ids: tuple[str, ...] = ()) -> dict[str, Any]:
    """`empatia import` of one note per user (message id ``m-<user>`` unless ``ids``)."""
    f = folder / f"batch-{len(list(folder.glob('batch-*')))}.jsonl"
    f.write_text("".join(json.dumps({
        "type": "track", "userId": u, "event": "Note", "messageId": (ids or {})[i] if ids else f"m-{u}",
        "properties": {"text": f"note of {u}"},
        "timestamp": "2026-11-01T10:00:00Z"}) + "\n" for i, u in enumerate(users)))  # fmt: skip
    return ws.import_files([f])


def lake_events(lake: Path) -> list[tuple[int, str]]:
    from deltalake import DeltaTable

    t = DeltaTable(str(lake / "events")).to_pyarrow_table(columns=["seq", "user_id"])
    return sorted(zip(t["seq"].to_pylist(), t["user_id"].to_pylist(), strict=True))


def parquet_holding(folder: Path, needle: str) -> list[Path]:
    with duckdb.connect() as con:
        return [p for p in sorted(folder.rglob("*.parquet"))
                if con.execute("select count(*) from read_parquet(?) t where contains(t::varchar, ?)",
                               [str(p), needle]).fetchall()[0][0]]  # fmt: skip


def killed_in(method: str, db: Path, lake: Path, then: str, *, after: bool = False) -> None:
    """Run ``then`` (Python, with ``ws`` the workspace of ``db`` on ``lake``) in a process that
    dies (kill -9's exit) on entering ``Lake.<method>`` — or, ``after``, once it returned."""
    call = "    real(self, *a, **kw)\n" if after else ""
    code = (
        "import os\n"
        "from empatia.store import lake\n"
        f"real = lake.Lake.{method}\n"
        "def die(self, *a, **kw):\n"
        f"{call}"
        "    os._exit(9)\n"
        f"lake.Lake.{method} = die\n"
        "from empatia.workspace import Workspace\n"
        "from empatia.ingest.nodes import gather\n"
        f"ws = Workspace(db={str(db)!r}, store={{'kind': 'lake', 'uri': {str(lake)!r}}})\n"
        f"{then}\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]


def test_two_ingest_nodes_and_the_primary_share_one_lake_without_losing_an_event(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    primary_db = tmp_path / "primary.duckdb"
    with lake_workspace(primary_db, lake) as main:  # the first store to send events owns it
        assert send(main, tmp_path, "a1", "a2")["shipped"] == 2
    for name, users in (("node1", ("b1", "b2", "a1")), ("node2", ("c1",))):
        with lake_workspace(tmp_path / f"{name}.duckdb", lake) as node:
            report = send(node, tmp_path, *users)  # a1 again: a client's retry to another node
            assert report["accepted"] == len(users) and report["shipped"] == len(users)
            # sent to its own inbox, and gone from the node's file; the lake's log is untouched
            assert node.store.con.execute("select count(*) from events").fetchall() == [(0,)]
            assert [u for _, u in lake_events(lake)] == ["a1", "a2"]
            # the work that reads the whole log is the primary's, and says where that is
            with pytest.raises(IngestNodeError, match="primary.duckdb"):
                run_pipeline(RunContext(node, full=True), ["privacy"])
            with pytest.raises(IngestNodeError, match="primary.duckdb"):
                node.erase("user_id:b1")
            with pytest.raises(IngestNodeError, match="primary.duckdb"):  # it would be empty
                node.export_subject("user_id:b1")
    with lake_workspace(primary_db, lake) as main:
        run_pipeline(RunContext(main, full=True), ["privacy"])  # a run gathers the inboxes first
        con = main.store.con
        users = con.execute("select user_id from events order by seq").fetchall()
        assert sorted(u for (u,) in users) == ["a1", "a2", "b1", "b2", "c1"]  # a1 once
        shipped = lake_events(lake)
        assert sorted(u for _, u in shipped) == ["a1", "a2", "b1", "b2", "c1"]
        assert len({s for s, _ in shipped}) == 5  # one sequence: no two events share a seq
        assert parquet_holding(lake / "inbox", "note of") == []  # the inboxes' files are gone
        assert len(main.export_subject("user_id:b1")["tables"]["events"]) == 1
        # a person whose events came through a node is erased from all of the lake
        assert main.erase("user_id:b2")["deleted"]["events"] == 1
    assert parquet_holding(lake, "note of b2") == []
    assert sorted(u for _, u in lake_events(lake)) == ["a1", "a2", "b1", "c1"]


def test_a_node_killed_after_the_lake_got_its_events_sends_them_once(tmp_path: Path) -> None:
    """kill -9 between the lake's commit and the node dropping what it sent: the next send
    drops them without sending again; an event a node sends after the person was erased at
    the primary is dropped as it is gathered."""
    lake = tmp_path / "lake"
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        send(main, tmp_path, "a1")
        main.erase("user_id:a1")
    node_db = tmp_path / "node.duckdb"
    with lake_workspace(node_db, lake) as node:
        assert node.store.lake is not None  # joins the lake as an ingest node
    events = tmp_path / "late.jsonl"
    events.write_text("".join(json.dumps({"type": "track", "userId": u, "event": "Note",
                                          "messageId": f"m-{u}"}) + "\n"
                              for u in ("b1", "a1")))  # fmt: skip
    # in the lake; still in the node's file
    killed_in("write", node_db, lake, f"ws.import_files([{str(events)!r}])", after=True)
    with lake_workspace(node_db, lake) as node:
        assert node.store.con.execute("select count(*) from events").fetchall() == [(2,)]
        from empatia.ingest.nodes import ship

        with node.store.lock:
            assert ship(node.store) == 0  # the lake has them: nothing goes twice
        assert node.store.con.execute("select count(*) from events").fetchall() == [(0,)]
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        run_pipeline(RunContext(main, full=True), ["privacy"])
        got = main.store.con.execute("select user_id from events").fetchall()
        assert got == [("b1",)]  # a1 was erased here: what a node sent of them is dropped
    assert parquet_holding(lake, "m-a1") == []


def test_the_primary_killed_while_it_gathers_keeps_each_event_once(tmp_path: Path) -> None:
    """kill -9 after the primary stored what it gathered but before it took the files out of
    the inbox: the next gather finds them again and skips every one (by message id)."""
    lake, main_db = tmp_path / "lake", tmp_path / "primary.duckdb"
    with lake_workspace(main_db, lake) as main:
        send(main, tmp_path, "a1")
    with lake_workspace(tmp_path / "node.duckdb", lake) as node:
        send(node, tmp_path, "b1", "b2")
    killed_in("take", main_db, lake, "gather(ws.store)")  # stored; the inbox still holds them
    assert len(parquet_holding(lake / "inbox", "note of")) == 1
    with lake_workspace(main_db, lake) as main:
        run_pipeline(RunContext(main, full=True), ["privacy"])
        got = main.store.con.execute("select user_id from events order by user_id").fetchall()
        assert got == [("a1",), ("b1",), ("b2",)]
    assert parquet_holding(lake / "inbox", "note of") == []
    assert sorted(u for _, u in lake_events(lake)) == ["a1", "b1", "b2"]


def test_a_write_key_of_the_primary_works_on_every_node_until_it_is_revoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients behind a load balancer send one write key to whichever node they reach; a key
    revoked at the primary stops working on the nodes within :data:`LAKE_KEYS_TTL`."""
    from empatia.errors import AuthError
    from empatia.privacy import keys

    lake = tmp_path / "lake"
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        key, write = keys.create_key(main.store, "write", "site")
        _, read = keys.create_key(main.store, "read", "bi")
        with lake_workspace(tmp_path / "node.duckdb", lake) as node:
            ring = keys.KeyRing(node.store)
            assert ring.authenticate(write, "write").key_id == key.key_id
            with pytest.raises(AuthError, match="unknown key"):  # only write keys travel
                ring.authenticate(read, "read")
            keys.revoke_key(main.store, key.key_id)
            monkeypatch.setattr(keys, "LAKE_KEYS_TTL", 0.0)  # as if its seconds had passed
            with pytest.raises(AuthError, match="revoked"):
                ring.authenticate(write, "write")
            # and a node's own key, made by its `empatia init`, works there alone
            _, own = keys.create_key(node.store, "write", "node")
            assert ring.authenticate(own, "write")
        with pytest.raises(AuthError):
            keys.KeyRing(main.store).authenticate(own, "write")


def test_an_ingest_node_answers_what_is_the_primary_s_with_where_the_primary_is(
    tmp_path: Path,
) -> None:
    """Over HTTP: an erasure or a subject's export asked of an ingest node is a 409 naming the
    primary (nothing erased half-way); its web pages say where the customers are."""
    from fastapi.testclient import TestClient

    from empatia.api.app import create_app
    from empatia.privacy.keys import create_key
    from tests.web.conftest import sign_in

    lake = tmp_path / "lake"
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        create_key(main.store, "write", "site")  # `empatia init`: the lake is this store's
    node = lake_workspace(tmp_path / "node.duckdb", lake)
    admin = create_key(node.store, "admin", "ops")[1]
    with TestClient(create_app(node)) as client:
        for method in ("DELETE", "GET"):
            r = client.request(method, "/v1/subjects/user_id:b1", auth=(admin, ""))
            assert r.status_code == 409, r.text
            assert "primary.duckdb" in r.json()["message"] and "ingest node" in r.json()["message"]
        # what it cannot answer points to the primary, not to `empatia run` (a node cannot run)
        r = client.get("/v1/profiles/user_id:b1", auth=(admin, ""))
        assert r.status_code == 404 and "primary store" in r.json()["message"], r.text
        assert "empatia run" not in r.text
        sign_in(client, admin)
        page = client.get("/").text
        assert "ingest node of a lake" in page and str(tmp_path / "primary.duckdb") in page
        for path in ("/dashboard/emotion", "/dashboard/care", "/dashboard/scores", "/audiences"):
            page = client.get(path).text
            assert "empatia run" not in page and "ingest node" in page, path
    node.close()


def test_consent_sent_to_an_ingest_node_takes_effect_at_the_primary(tmp_path: Path) -> None:
    """A node writes no table of the primary's: consent in what it received is read by the
    primary when it gathers it; a lake table written from a node is refused."""
    from fastapi.testclient import TestClient

    from empatia.api.app import create_app
    from empatia.privacy.keys import create_key
    from empatia.store.engine import DuckDBEngine

    lake = tmp_path / "lake"
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        write = create_key(main.store, "write", "site")[1]
    node = lake_workspace(tmp_path / "node.duckdb", lake)
    before = node.store.lake.version("consent_events")
    with TestClient(create_app(node)) as client:
        r = client.post("/v1/track", auth=(write, ""), json={
            "userId": "c1", "event": "Consent Updated", "messageId": "m-c1",
            "properties": {"purpose": "analytics", "granted": True}})  # fmt: skip
        assert r.status_code == 200, r.text
    assert node.store.lake.version("consent_events") == before
    with DuckDBEngine(node.store) as eng, pytest.raises(IngestNodeError):
        eng.write(eng.table("consent_events"), "consent_events")
    node.close()
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        run_pipeline(RunContext(main, full=True), ["privacy"])
        got = main.store.con.execute("select user_id, purpose, granted from consent_events"
                                     ).fetchall()  # fmt: skip
        assert got == [("c1", "analytics", True)]


def test_a_store_with_results_of_its_own_cannot_join_a_lake_it_does_not_own(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        send(main, tmp_path, "a1")  # the first store to send events owns it
    used = tmp_path / "used.duckdb"
    with Workspace(db=used) as ws:
        ws.store.con.execute("insert into profiles (person_id) values ('p-1')")
    with pytest.raises(IngestNodeError, match="results of its own"):
        lake_workspace(used, lake).store  # noqa: B018
    p = subprocess.run([sys.executable, "-m", "empatia", "--db", str(used), "stats"],
                       capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "EMPATIA_STORE__KIND": "lake",
                            "EMPATIA_STORE__URI": str(lake)})  # fmt: skip
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "results of its own" in p.stderr and len(p.stderr.strip().splitlines()) <= 2


def test_reading_takes_no_lake_and_an_old_lake_is_claimed_only_by_its_sender(
    tmp_path: Path,
) -> None:
    """A mistyped ``--db`` that only reads does not become a lake's primary; a lake made before
    owners were recorded is claimed by the store that sent its event log, not another."""
    import os

    lake, env = tmp_path / "lake", {**os.environ, "EMPATIA_STORE__KIND": "lake",
                                     "EMPATIA_STORE__URI": str(tmp_path / "lake")}  # fmt: skip
    p = subprocess.run([sys.executable, "-m", "empatia", "--db", str(tmp_path / "typo.duckdb"),
                        "stats"], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert p.returncode == 0, p.stderr
    with lake_workspace(tmp_path / "real.duckdb", lake) as real:
        send(real, tmp_path, "a1")
        assert real.store.lake.owner()[1] == str(tmp_path / "real.duckdb")
    # an old lake: its owner not recorded, its event log sent by `real`
    import shutil

    shutil.rmtree(lake / "primary")
    with lake_workspace(tmp_path / "other.duckdb", lake) as other, pytest.raises(
        Exception, match="open the lake from that store first"
    ):
        send(other, tmp_path, "b1")
    with lake_workspace(tmp_path / "real.duckdb", lake) as real:
        send(real, tmp_path, "a2")
        assert real.store.lake.owner()[1] == str(tmp_path / "real.duckdb")


def test_a_copy_of_a_node_s_file_is_a_node_of_its_own(tmp_path: Path) -> None:
    """A node's file copied (a VM image) sends its own events under its own name, or the
    lake's record of the other copy's sends would drop them unsent."""
    import shutil

    lake = tmp_path / "lake"
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        send(main, tmp_path, "a1")
    with lake_workspace(tmp_path / "n1.duckdb", lake) as n1:
        assert n1.store.lake is not None
    shutil.copy(tmp_path / "n1.duckdb", tmp_path / "n2.duckdb")
    with lake_workspace(tmp_path / "n1.duckdb", lake) as n1:
        assert send(n1, tmp_path, "b1", "b2")["shipped"] == 2
    with lake_workspace(tmp_path / "n2.duckdb", lake) as n2:
        assert send(n2, tmp_path, "c1")["shipped"] == 1
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        run_pipeline(RunContext(main, full=True), ["privacy"])
        got = main.store.con.execute("select user_id from events order by user_id").fetchall()
        assert got == [("a1",), ("b1",), ("b2",), ("c1",)]


def test_a_person_only_a_node_has_seen_is_erased_from_every_file(tmp_path: Path) -> None:
    """A node killed before its send committed leaves files no version names: its next send
    deletes them. The primary erases a person who reached it only through a node, with no run
    in between (it gathers first), and no file of the lake keeps them."""
    lake, node_db = tmp_path / "lake", tmp_path / "node.duckdb"
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        send(main, tmp_path, "a1")
    with lake_workspace(node_db, lake) as node:
        assert node.store.lake is not None
    events = tmp_path / "z.jsonl"
    events.write_text(json.dumps({"type": "track", "userId": "zork", "event": "Note",
                                  "messageId": "m-zork", "properties": {"text": "zork note"}}) + "\n")  # fmt: skip
    # the files are written, the version is not
    killed_in("commit", node_db, lake, f"ws.import_files([{str(events)!r}])")
    leftover = parquet_holding(lake / "inbox", "zork note")
    assert len(leftover) == 1  # written, never committed
    with lake_workspace(node_db, lake) as node:
        from empatia.ingest.nodes import ship

        with node.store.lock:
            assert ship(node.store) == 1
    assert not leftover[0].exists()  # its next send deleted it
    with lake_workspace(tmp_path / "primary.duckdb", lake) as main:
        assert main.erase("user_id:zork")["deleted"]["events"] == 1
    assert parquet_holding(lake, "zork") == []


def test_a_backup_of_the_primary_put_back_takes_back_what_the_lake_got_since(tmp_path: Path) -> None:
    """The primary's file restored from a backup: the events acknowledged since (the lake alone
    has them) come back and the next event is numbered after them — it used to replace the
    lake's log with the backup's, losing them — and a person erased since stays erased. Runs
    after new events on a lake (an incremental decide) work: they used to fail on DuckDB 2."""
    lake, db = tmp_path / "lake", tmp_path / "primary.duckdb"
    with lake_workspace(db, lake) as ws:
        send(ws, tmp_path, "a", "b")
        ws.run()
    shutil.copy(db, tmp_path / "backup.duckdb")
    with lake_workspace(db, lake) as ws:
        send(ws, tmp_path, "c", "d")
        ws.run()
        ws.erase("user_id:a")
    shutil.copy(tmp_path / "backup.duckdb", db)
    with lake_workspace(db, lake) as ws:
        send(ws, tmp_path, "e")
        log = ws.store.con.execute("select seq, user_id from events order by seq").fetchall()
        assert log == [(2, "b"), (3, "c"), (4, "d"), (5, "e")]
        ws.run(full=True)
        people = ws.store.con.execute("select count(distinct person_id) from event_persons")
        assert people.fetchall()[0][0] == 4
    assert lake_events(lake) == [(2, "b"), (3, "c"), (4, "d"), (5, "e")]
    assert not parquet_holding(lake, "note of a")
