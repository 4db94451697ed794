"""Tenancy as plain dependencies: the caller's key yields its workspace, and the app owns (and
stops) every thread it runs for its workspaces."""

from __future__ import annotations

import doctest
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

import empatia.api.tenancy
from empatia.api.app import create_app
from empatia.api.deps import ReadKey, TenantDep, WorkspaceDep, WriterDep
from empatia.workspace import Workspace

from .conftest import basic, bearer, make_keys

#: Threads the app starts: each workspace's writer and identity follower, decide's real-time
#: state (once /v1/decide is asked), the web UI's lookup pool.
APP_THREADS = ("empatia-writer", "empatia-identity", "decide-realtime", "empatia-web")


def test_docstring_examples() -> None:
    result = doctest.testmod(empatia.api.tenancy)
    assert result.failed == 0 and result.attempted > 0


def test_a_route_gets_the_workspace_its_key_belongs_to(tmp_path: Path) -> None:
    a, b = Workspace(db=tmp_path / "a" / "a.duckdb"), Workspace(db=tmp_path / "b" / "b.duckdb")
    keys_a, keys_b = make_keys(a), make_keys(b)
    app = create_app(workspaces={"a": a, "b": b})

    @app.get("/whoami")
    async def whoami(tenant: TenantDep, ws: WorkspaceDep, writer: WriterDep, _: ReadKey) -> str:
        assert ws is tenant.workspace and writer is tenant.writer
        return tenant.name

    with TestClient(app) as c:
        assert c.get("/whoami", headers=bearer(keys_a["read"])).json() == "a"
        assert c.get("/whoami", headers=bearer(keys_b["read"])).json() == "b"
        assert c.get("/whoami").status_code == 401
        assert c.get("/whoami", headers=bearer(keys_b["write"])).status_code == 403
    a.close()
    b.close()


def test_the_app_stops_every_thread_it_started(tmp_path: Path) -> None:
    ws = Workspace(db=tmp_path / "t.duckdb")
    keys = make_keys(ws)
    before = set(threading.enumerate())
    with TestClient(create_app(ws)) as c:
        ev = {"userId": "u", "event": "Hi", "type": "track"}
        assert c.post("/v1/track", json=ev, headers=basic(keys["write"])).status_code == 200
        c.post("/v1/decide", json={"person": "user_id:u"}, headers=bearer(keys["read"]))
        c.get("/customers/p_nobody", headers=bearer(keys["read"]))
        started = [t for t in set(threading.enumerate()) - before if t.name.startswith(APP_THREADS)]
        assert {t.name.split("_")[0] for t in started} == set(APP_THREADS)
    deadline = time.monotonic() + 5  # decide's thread notices its stop within 0.2 s
    while time.monotonic() < deadline and any(t.is_alive() for t in started):
        time.sleep(0.05)
    assert [t.name for t in started if t.is_alive()] == []
    ws.close()
