"""Tenancy as plain dependencies: the caller's key yields its workspace, and the app owns (and
stops) every thread it runs for its workspaces."""

from __future__ import annotations

import doctest
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import empatia.api.tenancy
from empatia.api.app import create_app
from empatia.api.deps import ReadKey, TenantDep, WorkspaceDep, WriterDep
from empatia.errors import StoreError
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
        kinds = {t.name.split("_")[0] for t in started}
        # and the 360 page's index, when its build is still running
        assert set(APP_THREADS) <= kinds <= {*APP_THREADS, "empatia-web-index"}
    # closing the app waited for each of them: none is left running, not even for a moment
    assert [t.name for t in started if t.is_alive()] == []
    ws.close()


def test_a_request_after_the_app_stopped_starts_no_thread(tmp_path: Path) -> None:
    """decide's real-time state starts on first use; once the app has stopped, a late request
    gets an answer to try again and leaves no thread behind (the app closes what it starts)."""
    ws = Workspace(db=tmp_path / "t.duckdb")
    keys = make_keys(ws)
    app = create_app(ws)
    with TestClient(app) as c:
        assert c.post("/v1/decide", json={"person": "p_x"},
                      headers=bearer(keys["read"])).status_code in (200, 404)  # fmt: skip
    tenant = app.state.tenants.first
    before = {t for t in threading.enumerate() if t.name == "decide-realtime"}
    with pytest.raises(StoreError, match="stopping"):
        tenant.realtime()
    assert {t for t in threading.enumerate() if t.name == "decide-realtime"} == before == set()
    with TestClient(app) as c:  # started again: decides again
        assert c.post("/v1/decide", json={"person": "p_x"},
                      headers=bearer(keys["read"])).status_code in (200, 404)  # fmt: skip
    ws.close()


def test_a_workspace_that_fails_to_start_leaves_no_thread_of_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = Workspace(db=tmp_path / "a" / "a.duckdb"), Workspace(db=tmp_path / "b" / "b.duckdb")
    tenants = empatia.api.tenancy.Tenants({"a": a, "b": b})
    real = empatia.api.tenancy.ensure_consent_view

    def fails_for_b(store: object) -> None:
        if store is b.store:
            raise RuntimeError("b cannot start")
        real(store)  # type: ignore[arg-type]

    monkeypatch.setattr(empatia.api.tenancy, "ensure_consent_view", fails_for_b)
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="b cannot start"):
        tenants.open()
    assert [t.name for t in set(threading.enumerate()) - before if t.is_alive()] == []
    a.close()
    b.close()
