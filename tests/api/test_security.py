"""The security suite: every route refuses a missing key, a wrong scope and another
workspace's key; workspaces served together never see each other's data."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.workspace import Workspace

from .conftest import basic, bearer, make_keys

#: Routes anyone may call.
PUBLIC = {("GET", "/health"), ("GET", "/signin"), ("POST", "/signin"), ("POST", "/signout"),
          ("GET", "/static/{path:path}")}  # fmt: skip
#: Tracking endpoints (plain Starlette routes, outside the OpenAPI schema): write scope.
TRACKING = [("POST", "/v1/track"), ("POST", "/v1/batch"), ("POST", "/v1/identify")]
_EVENT = {"userId": "u1", "event": "Hi", "type": "track"}


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            yield from _api_routes(r.original_router.routes)
        elif hasattr(r, "routes"):
            yield from _api_routes(r.routes)


def _scope_of(route: APIRoute) -> str | None:
    """The scope a route's key dependency requires (None: no key dependency)."""
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        name = getattr(d.call, "__qualname__", "")
        if name.startswith("require."):
            return str(inspect.getclosurevars(d.call).nonlocals["scope"])
        if name == "signed_in":  # the web UI: a read key in the sign-in cookie
            return "read"
        stack.extend(d.dependencies)
    return None


#: Routes that check a stronger scope inside than their dependency says.
STRONGER = {("GET", "/audiences/export.csv"): "admin"}


def _routes() -> list[tuple[str, str, str | None]]:
    app = create_app(Workspace(db=":memory:"))
    out = []
    for r in _api_routes(app.routes):
        for m in sorted(r.methods - {"HEAD"}):
            out.append((m, r.path, STRONGER.get((m, r.path), _scope_of(r))))
    return sorted(set(out))


ROUTES = _routes()
ALLOWED = {"write": {"write", "admin"}, "read": {"read", "admin"}, "admin": {"admin"}}


@pytest.fixture(scope="module")
def app_and_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:  # noqa: E501
    d = tmp_path_factory.mktemp("sec")
    ws, other = Workspace(db=d / "a.duckdb"), Workspace(db=d / "other.duckdb")
    keys, other_keys = make_keys(ws), make_keys(other)
    other.close()
    with TestClient(create_app(ws), raise_server_exceptions=False) as c:
        yield c, keys, other_keys
    ws.close()


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "p_nobody", path)


def _call(c: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    body: dict[str, Any] = {}
    if (method, path) in TRACKING:
        body = {"batch": [_EVENT]} if path.endswith("batch") else _EVENT
        if headers:
            headers = basic(headers["Authorization"].split(" ", 1)[1])
    r = c.request(method, _url(path), json=body, headers=headers, follow_redirects=False)
    if r.status_code == 303 and r.headers.get("location", "").startswith("/signin"):
        return 401  # the web UI refuses by sending the browser to sign in
    return r.status_code


def test_every_route_needs_a_key_dependency() -> None:
    missing = [(m, p) for m, p, s in ROUTES if s is None and (m, p) not in PUBLIC]
    assert missing == [], f"routes without a key check: {missing}"


def _cases() -> list[Any]:
    out = []
    for m, p, s in [r for r in ROUTES if (r[0], r[1]) not in PUBLIC]:
        out.append(pytest.param(m, p, s))
    return out + [pytest.param(m, p, "write") for m, p in TRACKING]


@pytest.mark.parametrize(("method", "path", "scope"), _cases())
def test_refused_without_key_wrong_scope_or_other_workspace(
    app_and_keys: tuple[TestClient, dict[str, str], dict[str, str]],
    method: str, path: str, scope: str | None,
) -> None:  # fmt: skip
    c, keys, other_keys = app_and_keys
    assert _call(c, method, path, {}) == 401
    assert _call(c, method, path, bearer("emp_admin_not-a-real-key")) == 401
    assert _call(c, method, path, bearer(other_keys["admin"])) == 401
    for have in ("write", "read", "admin"):
        status = _call(c, method, path, bearer(keys[have]))
        if scope is not None and have not in ALLOWED[scope]:
            ui = not path.startswith(("/v1/", "/admin/"))
            assert status == 403 or (ui and status == 401), (have, status)
        else:
            assert status not in (401, 403), (have, status)


def test_revoked_and_rotated_keys_stop_working(
    app_and_keys: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    c, keys, _ = app_and_keys
    created = c.post("/admin/keys", json={"scope": "read", "name": "bi"}, headers=bearer(keys["admin"])).json()
    assert c.get("/v1/consent/p_1", headers=bearer(created["secret"])).status_code == 200
    rotated = c.post(f"/admin/keys/{created['key_id']}/rotate", headers=bearer(keys["admin"])).json()
    assert rotated["scope"] == "read" and rotated["secret"] != created["secret"]
    assert c.get("/v1/consent/p_1", headers=bearer(created["secret"])).status_code == 401
    assert c.get("/v1/consent/p_1", headers=bearer(rotated["secret"])).status_code == 200
    c.delete(f"/admin/keys/{rotated['key_id']}", headers=bearer(keys["admin"]))
    assert c.get("/v1/consent/p_1", headers=bearer(rotated["secret"])).status_code == 401


def test_workspaces_in_one_server_never_see_each_other(
    two_workspaces: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    c, a, b = two_workspaces
    ev = {"userId": "shared-user", "event": "Order Completed", "type": "track",
          "properties": {"email": "only-in-a@example.com"}}  # fmt: skip
    assert c.post("/v1/track", json=ev, headers=basic(a["write"])).status_code == 200
    assert c.post("/v1/consent/user_id:shared-user", json={"purpose": "profiling", "granted": True},
                  headers=bearer(a["write"])).status_code == 200
    # A sees its person; B's admin key finds nothing of A's.
    got = c.get("/v1/subjects/user_id:shared-user", headers=bearer(a["admin"]))
    assert got.status_code == 200 and "only-in-a@example.com" in got.text
    assert c.get("/v1/subjects/user_id:shared-user", headers=bearer(b["admin"])).status_code == 404
    assert c.get("/v1/consent/user_id:shared-user/profiling", headers=bearer(a["read"])).json() == {"allowed": True}  # noqa: E501
    assert c.get("/v1/consent/user_id:shared-user/profiling", headers=bearer(b["read"])).json() == {"allowed": False}  # noqa: E501
    assert c.get("/admin/stats", headers=bearer(b["admin"])).json()["total"] == 0
    assert c.get("/admin/stats", headers=bearer(a["admin"])).json()["total"] == 1
    # B's keys are B's: listing and erasing stay inside B.
    assert {k["name"] for k in c.get("/admin/keys", headers=bearer(b["admin"])).json()} == {
        "test-write", "test-read", "test-admin"}
    assert c.delete("/v1/subjects/user_id:shared-user", headers=bearer(b["admin"])).status_code == 404
    audit_b = c.get("/admin/audit", headers=bearer(b["admin"])).json()
    assert all(e["action"] != "export" for e in audit_b)


def test_erasure_through_the_server_drops_later_events(tmp_path: Path) -> None:
    ws = Workspace(db=tmp_path / "s.duckdb")
    keys = make_keys(ws)
    with TestClient(create_app(ws)) as c:
        ev = {"userId": "u-gone", "event": "Hi", "type": "track",
              "properties": {"email": "gone@example.com"}}  # fmt: skip
        assert c.post("/v1/track", json=ev, headers=basic(keys["write"])).status_code == 200
        r = c.delete("/v1/subjects/user_id:u-gone", headers=bearer(keys["admin"]))
        assert r.status_code == 200 and r.json()["deleted"]["events"] == 1
        assert c.post("/v1/track", json=ev, headers=basic(keys["write"])).status_code == 200
        ok = {"userId": "u-stays", "event": "Hi", "type": "track"}
        assert c.post("/v1/track", json=ok, headers=basic(keys["write"])).status_code == 200
        assert c.get("/admin/stats", headers=bearer(keys["admin"])).json()["total"] == 1
        assert c.get("/v1/subjects/user_id:u-gone", headers=bearer(keys["admin"])).status_code == 404
    ws.close()
    assert b"gone@example.com" not in (tmp_path / "s.duckdb").read_bytes()


def test_reads_of_people_are_audited_without_personal_data(
    app_and_keys: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    c, keys, _ = app_and_keys
    c.get("/v1/consent/user_id:someone@example.com", headers=bearer(keys["read"]))
    log = c.get("/admin/audit", headers=bearer(keys["admin"])).json()
    reads = [e for e in log if e["action"] == "read" and "consent" in e["detail"]]
    assert reads and reads[0]["actor"].startswith("key:")
    assert all("someone@example.com" not in str(e) for e in log)


def test_consent_events_count_at_once_through_the_server(tmp_path: Path) -> None:
    ws = Workspace(db=tmp_path / "c.duckdb")
    keys = make_keys(ws)
    with TestClient(create_app(ws)) as c:
        ev = {"userId": "u-c", "event": "Consent Updated", "type": "track",
              "properties": {"purpose": "marketing_sms", "granted": True}}  # fmt: skip
        assert c.post("/v1/track", json=ev, headers=basic(keys["write"])).status_code == 200
        got = c.get("/v1/consent/user_id:u-c/marketing_sms", headers=bearer(keys["read"]))
        assert got.json() == {"allowed": True}
        ctx = {"userId": "u-c", "type": "identify", "context": {"consent": {"marketing_sms": False}}}
        assert c.post("/v1/identify", json=ctx, headers=basic(keys["write"])).status_code == 200
        got = c.get("/v1/consent/user_id:u-c/marketing_sms", headers=bearer(keys["read"]))
        assert got.json() == {"allowed": False}
    ws.close()
