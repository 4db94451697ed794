"""Finding #3 of issue #13: consent dated in the future must not beat a later withdrawal.

Times from clients are clamped to when the server received them, and a grant holds only while
it is the latest decision by when the server learnt it; on every path consent comes in by:
the REST API, events through ``/v1/track`` and events through ``empatia import``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from empatia.api.app import create_app
from empatia.cli import app
from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy.consent import check, current
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace

# ahead of the server, yet inside the day of clock drift that ingest accepts
FUTURE = (datetime.now(UTC) + timedelta(hours=20)).isoformat()


def _latest_decided_at(ws: Workspace) -> datetime:
    row = ws.store.con.execute("select max(decided_at) from consent_current").fetchone()
    assert row and row[0] is not None
    return row[0]  # type: ignore[no-any-return]


def _consent(user: str, granted: bool, ts: str | None = None) -> dict[str, object]:
    e: dict[str, object] = {"type": "track", "userId": user, "event": "Consent Updated",
                            "properties": {"purpose": "profiling", "granted": granted}}
    if ts:
        e["timestamp"] = ts
    return e


def test_rest_future_grant_loses_to_the_later_withdrawal(tmp_path: Path) -> None:
    ws = Workspace(db=tmp_path / "c.duckdb")
    _, admin = create_key(ws.store, "admin")  # the scope the route needs is the api's matter
    auth = {"Authorization": f"Bearer {admin}"}
    try:
        with TestClient(create_app(ws)) as c:
            r = c.post("/v1/consent/p_1", headers=auth,
                       json={"purpose": "profiling", "granted": True, "at": "2099-01-01T00:00:00"})
            assert r.status_code == 200, r.text
            r = c.post("/v1/consent/p_1", headers=auth,
                       json={"purpose": "profiling", "granted": False})
            assert r.status_code == 200, r.text
            r = c.get("/v1/consent/p_1/profiling", headers=auth)
            assert r.status_code == 200 and r.json() == {"allowed": False}
            shown = c.get("/v1/consent/p_1", headers=auth).json()["profiling"]
            assert shown["granted"] is False and shown["decided_at"] < "2099"
        assert _latest_decided_at(ws) <= datetime.now(UTC)  # stored clamped
    finally:
        ws.close()


def test_track_future_grant_loses_to_the_later_withdrawal(tmp_path: Path) -> None:
    ws = Workspace(db=tmp_path / "t.duckdb")
    _, write = create_key(ws.store, "write")
    try:
        with TestClient(create_app(ws)) as c:
            for e in (_consent("u-1", True, FUTURE), _consent("u-1", False)):
                assert c.post("/v1/track", json=e, auth=(write, "")).status_code == 200
        run_pipeline(RunContext(ws), only=("identity", "privacy"))
        assert not check(ws.store, "user_id:u-1", "profiling")
        assert not current(ws.store, "user_id:u-1")["profiling"].granted
        assert _latest_decided_at(ws) <= datetime.now(UTC)
    finally:
        ws.close()


def test_import_future_grant_loses_to_the_later_withdrawal(tmp_path: Path) -> None:
    db = tmp_path / "i.duckdb"
    first, second = tmp_path / "grant.jsonl", tmp_path / "withdraw.jsonl"
    first.write_text(json.dumps(_consent("u-2", True, FUTURE)) + "\n")
    second.write_text(json.dumps(_consent("u-2", False, "2026-01-01T00:00:00Z")) + "\n")
    runner = CliRunner()
    for f in (first, second):
        out = runner.invoke(app, ["--db", str(db), "import", str(f)])
        assert out.exit_code == 0, out.output
    with Workspace(db=db) as ws:
        run_pipeline(RunContext(ws), only=("identity", "privacy"))
        assert not check(ws.store, "user_id:u-2", "profiling")
        assert _latest_decided_at(ws) <= datetime.now(UTC)
        # a grant learnt after the withdrawal and made after it counts again
        out = runner.invoke(app, ["--db", str(db), "consent", "set", "user_id:u-2", "profiling"])
        assert out.exit_code == 0, out.output
        assert check(ws.store, "user_id:u-2", "profiling")
