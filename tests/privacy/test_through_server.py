"""While `empatia serve` owns the store, the privacy commands go through it."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from typer.testing import CliRunner

from empatia.cli import app
from empatia.privacy.keys import create_key
from empatia.store import Store
from tests.conftest import ServerProcess

from .conftest import ALA, BOB


def test_cli_export_consent_erase_rotate_through_the_server(world_template: Path, tmp_path: Path) -> None:  # noqa: E501
    db = tmp_path / "srv.duckdb"
    shutil.copy(world_template, db)
    with Store(db) as s:
        key, write = create_key(s, "write", "site")
    srv = ServerProcess(db).start()
    try:
        r = CliRunner()
        out = r.invoke(app, ["--db", str(db), "subject", "export", BOB["user_id"]])
        assert out.exit_code == 0, out.output
        assert BOB["email"] in out.output
        out = r.invoke(app, ["--db", str(db), "consent", "set", "user_id:" + BOB["user_id"],
                             "marketing_sms", "--granted"])  # fmt: skip
        assert out.exit_code == 0, out.output
        out = r.invoke(app, ["--db", str(db), "subject", "erase", "email:" + ALA["email"], "--yes"])
        assert out.exit_code == 0, out.output
        assert "rewritten: True" in out.output
        # The server keeps working on the rewritten file, and drops Ala's later events.
        auth = (write, "")
        ev = {"userId": ALA["user_id"], "event": "Back again", "type": "track"}
        assert httpx.post(srv.url + "/v1/track", json=ev, auth=auth).status_code == 200
        ev = {"userId": BOB["user_id"], "event": "Still here", "type": "track"}
        assert httpx.post(srv.url + "/v1/track", json=ev, auth=auth).status_code == 200
        out = r.invoke(app, ["--db", str(db), "keys", "rotate", key.key_id])
        assert out.exit_code == 0 and "revoked" in out.output, out.output
        assert httpx.post(srv.url + "/v1/track", json=ev, auth=auth).status_code == 401
        out = r.invoke(app, ["--db", str(db), "audit"])
        assert "erase" in out.output
    finally:
        srv.stop()
    with Store(db) as s:
        assert s.con.execute("select count(*) from events where event = 'Back again'").fetchone()[0] == 0  # type: ignore[index]  # noqa: E501
        assert s.con.execute("select count(*) from events where event = 'Still here'").fetchone()[0] == 1  # type: ignore[index]  # noqa: E501
    assert ALA["email"].encode() not in db.read_bytes()
