"""``[store] kind = "lake"``: the event log and the stage outputs in Delta Lake tables that
every engine reads and writes itself (empatia.store.lake). Spark on the lake, end to end on a
standalone cluster: tests/test_spark_cluster.py."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from empatia.errors import ConfigError
from empatia.pipeline import RunContext, run_pipeline
from empatia.workspace import Workspace
from tests.store.incremental_world import OPTS
from tests.tables import differences

pytest.importorskip("deltalake")


def lake_workspace(db: Path, lake: Path) -> Workspace:
    return Workspace(db=db, store={"kind": "lake", "uri": str(lake)})


def run_full(ws: Workspace, **kw: Any) -> dict[str, dict[str, Any]]:
    results = run_pipeline(RunContext(ws, full=True, settings=dict(OPTS), **kw))
    return {r.name: r.figures for r in results}


@pytest.fixture(scope="module")
def one_file(incremental_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo world rebuilt in the one-file store: what the lake must equal."""
    db = tmp_path_factory.mktemp("one_file") / "duck.duckdb"
    shutil.copy(incremental_template, db)
    with Workspace(db=db) as ws:
        run_full(ws)
    return db


def _files_with(folder: Path, needle: str) -> list[Path]:
    """The files under ``folder`` holding ``needle``: in any row of a Parquet file (they are
    compressed), in the bytes of any other (the transaction log)."""
    found = []
    with duckdb.connect() as con:
        for p in sorted(folder.rglob("*")):
            if p.suffix == ".parquet":
                n = con.execute("select count(*) from read_parquet(?) t"
                                " where contains(t::varchar, ?)", [str(p), needle]).fetchall()  # fmt: skip
                if n[0][0]:
                    found.append(p)
            elif p.is_file() and needle.encode() in p.read_bytes():
                found.append(p)
    return found


def test_a_store_moves_into_the_lake_and_a_run_there_equals_the_one_file_store(
    one_file: Path, incremental_template: Path, tmp_path: Path
) -> None:
    db, lake = tmp_path / "w.duckdb", tmp_path / "lake"
    shutil.copy(incremental_template, db)  # a workspace that already ran, moving to a lake
    with lake_workspace(db, lake) as ws:
        profiles_before = ws.store.con.execute("select count(*) from profiles").fetchall()
        assert profiles_before[0][0] > 50  # its rows went to the lake with it
        figures = run_full(ws)
        assert figures["identity"]["mode"] == "batch (full)"
    compared, differ = differences(one_file, db)
    assert not differ, differ
    assert compared >= 30
    # the rows are in the lake (the file holds views of it) and the event log was shipped
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables"
                                 " where table_name in ('profiles', 'events')").fetchall())  # fmt: skip
        events = con.execute("select count(*) from events").fetchall()[0][0]
    from deltalake import DeltaTable

    shipped = DeltaTable(str(lake / "events")).to_pyarrow_table(columns=["seq"]).num_rows
    assert kinds == {"profiles": "VIEW", "events": "BASE TABLE"}
    assert shipped == events > 1000
    # stages rebuild whole tables in the lake: no per-person bookkeeping read or kept (it
    # would scan every person's events in the process that runs the stages)
    with duckdb.connect(str(db), read_only=True) as con:
        marks = con.execute("select count(*) from person_marks").fetchall()[0][0]
        prints = con.execute("select count(*) from profiles_state where key = 'inputs'").fetchall()
    assert (marks, prints[0][0]) == (0, 0)


def test_an_interrupted_write_leaves_the_store_reading_the_last_committed_version(
    incremental_template: Path, tmp_path: Path
) -> None:
    """A run killed after it wrote a table to the lake but before the stage committed: the
    store still reads what the last committed run wrote, and the next run finishes."""
    db, lake = tmp_path / "w.duckdb", tmp_path / "lake"
    shutil.copy(incremental_template, db)
    with lake_workspace(db, lake) as ws:
        before = ws.store.con.execute("select count(*), sum(hash(p)) from profiles p").fetchall()
    code = (
        "import os, sys\n"
        "from empatia.store import engine\n"
        "real = engine.Engine._lake_write\n"
        "def die(self, expr, table, **kw):\n"
        "    n = real(self, expr, table, **kw)\n"
        "    if table == 'profile_traits': os._exit(9)  # the stage has not committed\n"
        "    return n\n"
        "engine.Engine._lake_write = die\n"
        "from empatia.workspace import Workspace\n"
        "from empatia.pipeline import RunContext, run_pipeline\n"
        f"ws = Workspace(db={str(db)!r}, store={{'kind': 'lake', 'uri': {str(lake)!r}}})\n"
        "run_pipeline(RunContext(ws, full=True), ['profiles'])\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    with lake_workspace(db, lake) as ws:
        con = ws.store.con
        assert con.execute("select count(*), sum(hash(p)) from profiles p").fetchall() == before
        assert run_full(ws)["profiles"]["profiles"] == before[0][0]


def test_erasure_deletes_a_person_from_the_lake_files_too(
    incremental_template: Path, tmp_path: Path
) -> None:
    db, lake = tmp_path / "w.duckdb", tmp_path / "lake"
    shutil.copy(incremental_template, db)
    with lake_workspace(db, lake) as ws:
        run_full(ws)
        con = ws.store.con
        email, person = con.execute(
            "select p.email, p.person_id from profiles p join event_persons e using (person_id)"
            " where p.email is not null group by all order by count(*) desc limit 1"
        ).fetchall()[0]
        assert _files_with(lake, email) and _files_with(lake, person)
        # what a Spark run killed mid-stage leaves: its fit's model, with people's purchases
        (lake / "_models").mkdir()
        (lake / "_models" / "killed.pickle").write_bytes(pickle.dumps({"persons": [person]}))
        report = ws.erase(f"email:{email}")
        assert report["deleted"]["profiles"] == 1 and report["deleted"]["events"] > 0
        left = ws.store.con.execute("select count(*) from profiles where person_id = ?", [person])
        assert left.fetchall()[0][0] == 0
    # no file of the lake holds them any more: not the tables' current files, not the old
    # versions' (deleted), not the transaction log (it keeps no column statistics)
    assert _files_with(lake, email) == []
    assert _files_with(lake, person) == [] and not list((lake / "_models").iterdir())
    adds = [json.loads(json.loads(line)["add"]["stats"])
            for p in lake.glob("*/_delta_log/*.json") for line in p.read_text().splitlines()
            if '"add"' in line]  # fmt: skip
    assert adds and all(not a.get("minValues") and not a.get("maxValues") for a in adds)


def test_the_lake_setting_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs store.uri"):
        Workspace(db=tmp_path / "w.duckdb", store={"kind": "lake"}).store  # noqa: B018
    with pytest.raises(ConfigError, match="must be a folder"):
        Workspace(db=tmp_path / "w.duckdb",
                  store={"kind": "lake", "uri": "s3://bucket/lake"}).store  # noqa: B018
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    env = dict(os.environ, EMPATIA_STORE__KIND="lake", EMPATIA_STORE__URI=str(blocked / "lake"))
    p = subprocess.run([sys.executable, "-m", "empatia", "--db", str(tmp_path / "x.duckdb"),
                        "stats"], capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert "cannot use the lake folder" in p.stderr and len(p.stderr.strip().splitlines()) <= 2


def test_the_server_answers_from_the_lake_and_ships_what_it_acknowledges(
    incremental_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`empatia serve` on a lake workspace: profiles come from the lake's tables (what a
    cluster computed); an acknowledged event reaches the lake's event log within seconds, and
    once only, even when the server is killed right after acknowledging it."""
    import time
    import uuid

    import httpx
    from deltalake import DeltaTable

    from empatia.privacy.keys import create_key
    from tests.conftest import ServerProcess

    db, lake = tmp_path / "w.duckdb", tmp_path / "lake"
    shutil.copy(incremental_template, db)
    with lake_workspace(db, lake) as ws:
        run_full(ws)
        email, person = ws.store.con.execute(
            "select email, person_id from profiles where email is not null limit 1"
        ).fetchall()[0]
        write = create_key(ws.store, "write")[1]
        read = create_key(ws.store, "read")[1]
    monkeypatch.setenv("EMPATIA_STORE__KIND", "lake")
    monkeypatch.setenv("EMPATIA_STORE__URI", str(lake))

    def shipped(message_id: str) -> int:
        t = DeltaTable(str(lake / "events")).to_pyarrow_table(columns=["message_id"])
        return t["message_id"].to_pylist().count(message_id)

    def eventually(message_id: str) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not shipped(message_id):
            time.sleep(0.5)
        return shipped(message_id)

    srv = ServerProcess(db).start()
    try:
        r = httpx.get(f"{srv.url}/v1/profiles/email:{email}",
                      headers={"Authorization": f"Bearer {read}"})  # fmt: skip
        assert r.status_code == 200 and r.json()["person_id"] == person
        first = str(uuid.uuid4())
        r = httpx.post(srv.url + "/v1/track", auth=(write, ""),
                       json={"userId": "lake-1", "event": "Viewed", "messageId": first})  # fmt: skip
        assert r.status_code == 200, r.text
        assert eventually(first) == 1
        second = str(uuid.uuid4())
        r = httpx.post(srv.url + "/v1/track", auth=(write, ""),
                       json={"userId": "lake-2", "event": "Viewed", "messageId": second})  # fmt: skip
        assert r.status_code == 200, r.text
        srv.kill9()  # acknowledged: on disk in the store, maybe not yet in the lake
        srv = ServerProcess(db).start()
        assert eventually(second) == 1
        r = httpx.post(srv.url + "/v1/track", auth=(write, ""),
                       json={"userId": "lake-3", "event": "Viewed"})  # fmt: skip
        time.sleep(6)  # the shipper's interval: nothing goes twice
        assert shipped(first) == 1 and shipped(second) == 1
    finally:
        srv.stop()


def test_what_the_model_computed_stays_in_the_lake_when_a_run_is_cut_off(
    incremental_template: Path, tmp_path: Path
) -> None:
    """Emotion's memo (``text_cache``) is added to the lake as the model computes, in a
    transaction of its own: a run killed before the stage committed has not lost it, and the
    next run takes every text from it, each once."""
    db, lake = tmp_path / "w.duckdb", tmp_path / "lake"
    shutil.copy(incremental_template, db)
    with duckdb.connect(str(db)) as con:  # nothing analysed yet: the model runs on every text
        con.execute("delete from text_cache")
    code = (
        "import os\n"
        "from empatia.store import engine\n"
        "real = engine.Engine.memo\n"
        "def die(self, rows, table):\n"
        "    real(self, rows, table)\n"
        "    os._exit(9)  # the memo is kept, the stage has not committed\n"
        "engine.Engine.memo = die\n"
        "from empatia.workspace import Workspace\n"
        "from empatia.pipeline import RunContext, run_pipeline\n"
        f"ws = Workspace(db={str(db)!r}, store={{'kind': 'lake', 'uri': {str(lake)!r}}})\n"
        f"run_pipeline(RunContext(ws, full=True, settings={OPTS!r}), ['emotion'])\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 9, p.stderr[-2000:]
    with lake_workspace(db, lake) as ws:
        kept = ws.store.con.execute("select count(*) from text_cache").fetchall()[0][0]
        assert kept > 100
        figures = run_full(ws)["emotion"]
        assert figures["analysed"] == 0 and figures["from_cache"] == figures["texts"] > 100
        con = ws.store.con
        assert con.execute("select count(*) - count(distinct seq) from text_analysis"
                           ).fetchall() == [(0,)]  # fmt: skip
        assert con.execute("select count(*) from text_cache").fetchall() == [(kept,)]


def test_the_lake_gets_each_event_once_and_every_change_to_what_it_got(tmp_path: Path) -> None:
    """``empatia import`` sends what it stored on to the lake. Shipping reads only ``seq`` of
    the rows already sent, yet the lake's event log follows every change: new events are
    appended once; a deletion, and a change in place that its writer marks (an erasure
    blanking a text), send the log again without the old bytes."""
    from deltalake import DeltaTable

    from empatia.store.lake import events_changed, ship_events

    def send(*events: dict[str, Any]) -> None:
        f = tmp_path / f"e{len(list(tmp_path.glob('e*.jsonl')))}.jsonl"
        f.write_text("".join(json.dumps({"type": "track", **e}) + "\n" for e in events))
        ws.import_files([f])

    def in_lake() -> list[str]:
        t = DeltaTable(str(tmp_path / "lake" / "events")).to_pyarrow_table(columns=["raw"])
        return sorted(json.loads(r)["properties"]["text"] for r in t["raw"].to_pylist())

    with lake_workspace(tmp_path / "w.duckdb", tmp_path / "lake") as ws:
        con, lake = ws.store.con, ws.store.lake
        assert lake is not None
        send(*({"userId": f"u{i}", "event": "Note", "properties": {"text": f"note-{i}"}}
               for i in range(3)))  # fmt: skip
        assert in_lake() == ["note-0", "note-1", "note-2"]  # an import sends them on
        assert ship_events(con, lake) == 0
        send({"userId": "u3", "event": "Note", "properties": {"text": "note-3"}})
        assert ship_events(con, lake) == 0 and in_lake() == ["note-0", "note-1", "note-2", "note-3"]
        con.execute("begin transaction")
        con.execute("update events set raw = replace(raw::varchar, 'note-1', 'blank-1')::json"
                    " where user_id = 'u1'")  # fmt: skip
        events_changed(con)
        con.execute("commit")
        assert ship_events(con, lake) == 4 and in_lake() == ["blank-1", "note-0", "note-2", "note-3"]
        con.execute("delete from events where user_id = 'u2'")
        assert ship_events(con, lake) == 3 and in_lake() == ["blank-1", "note-0", "note-3"]
        # and no file of the lake's log holds the old bytes (the old versions' are deleted)
        assert _files_with(tmp_path / "lake" / "events", "note-1") == []
        assert _files_with(tmp_path / "lake" / "events", "note-2") == []
