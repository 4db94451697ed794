"""The security suite: every route × every kind of caller gets the status its scope says;
workspaces served together never see each other's data; one test per finding of issue #13
that lives in the API (write keys read nothing, read keys change nothing, bodies are capped
before anyone is trusted, server paths stay in the workspace's folder, the store is private).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.api.limits import MAX_BODY_BYTES
from empatia.api.routes.ingest import PATHS as TRACKING_PATHS
from empatia.privacy.keys import GRANTS, SCOPES, create_key, revoke_key
from empatia.workspace import Workspace

from .conftest import basic, bearer, make_keys

#: Routes anyone may call.
PUBLIC = {("GET", "/health"), ("GET", "/signin"), ("POST", "/signin"), ("POST", "/signout"),
          ("GET", "/static/{path:path}")}  # fmt: skip
#: Tracking endpoints (plain ASGI paths answered before routing, outside the OpenAPI schema).
TRACKING = sorted(("POST", p) for p in TRACKING_PATHS)
_EVENT = {"userId": "u1", "event": "Hi", "type": "track"}
#: Who calls: every scope, no key, a revoked admin key, another workspace's admin key.
CALLERS = ("none", *SCOPES, "revoked", "other_workspace")


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            yield from _api_routes(r.original_router.routes)
        elif hasattr(r, "routes"):
            yield from _api_routes(r.routes)


def _scope_of(route: APIRoute) -> str | None:
    """The scope a route's key dependency requires (None: no key dependency).

    Every key dependency is made by ``require(scope)`` (the web UI wraps it): the scope is in
    the dependency's closure."""
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        scope = _closure_scope(d.call)
        if scope is not None:
            return scope
        stack.extend(d.dependencies)
    return None


def _closure_scope(fn: Any, depth: int = 0) -> str | None:
    if not inspect.isfunction(fn) or depth > 3:
        return None
    held = inspect.getclosurevars(fn).nonlocals
    if held.get("scope") in SCOPES:
        return str(held["scope"])
    return next((s for v in held.values() if (s := _closure_scope(v, depth + 1))), None)


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


@pytest.fixture(scope="module")
def app_and_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:  # noqa: E501
    d = tmp_path_factory.mktemp("sec")
    ws, other = Workspace(db=d / "a" / "a.duckdb"), Workspace(db=d / "other" / "other.duckdb")
    keys = make_keys(ws)
    key, keys["revoked"] = create_key(ws.store, "admin", "gone")
    revoke_key(ws.store, key.key_id)
    keys["other_workspace"] = make_keys(other)["admin"]
    keys["bogus"] = "emp_admin_not-a-real-key"
    other.close()
    with TestClient(create_app(ws), raise_server_exceptions=False) as c:
        yield c, keys
    ws.close()


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "p_nobody", path)


def _call(c: TestClient, method: str, path: str, secret: str | None) -> int:
    headers = bearer(secret) if secret else {}
    body: dict[str, Any] = {}
    if (method, path) in TRACKING:
        body = {"batch": [_EVENT]} if "batch" in path or path.endswith(("/b", "/import")) else _EVENT
        headers = basic(secret) if secret else {}
    r = c.request(method, _url(path), json=body, headers=headers, follow_redirects=False)
    if r.status_code == 303 and r.headers.get("location", "").startswith("/signin"):
        return 401  # the web UI refuses by sending the browser to sign in
    return r.status_code


def expected(scope: str, caller: str) -> set[int] | None:
    """The statuses a caller may get from a route needing ``scope`` (None: any but 401/403)."""
    if caller in ("none", "revoked", "other_workspace", "bogus"):
        return {401}
    if scope in GRANTS[caller]:
        return None
    return {403}


def test_every_route_needs_a_key_dependency() -> None:
    missing = [(m, p) for m, p, s in ROUTES if s is None and (m, p) not in PUBLIC]
    assert missing == [], f"routes without a key check: {missing}"


def _cases() -> list[Any]:
    routes = [r for r in ROUTES if (r[0], r[1]) not in PUBLIC] + [(m, p, "write") for m, p in TRACKING]
    return [pytest.param(m, p, s, id=f"{m} {p}") for m, p, s in routes]


@pytest.mark.parametrize(("method", "path", "scope"), _cases())
def test_every_route_against_every_caller(
    app_and_keys: tuple[TestClient, dict[str, str]], method: str, path: str, scope: str
) -> None:
    """One matrix, derived from the app's routes: a new route is covered when it is added."""
    c, keys = app_and_keys
    got = {caller: _call(c, method, path, keys.get(caller)) for caller in (*CALLERS, "bogus")}
    wrong = {}
    for caller, status in got.items():
        want = expected(scope, caller)
        if want is None and status in (401, 403) or want is not None and status not in want:
            wrong[caller] = status
    assert wrong == {}, f"{method} {path} needs {scope!r}; got {got}"


def test_the_matrix_covers_every_kind_of_caller_and_route() -> None:
    """The matrix cannot go quiet: each scope is needed by some route and refused by another."""
    needed = {s for _, _, s in ROUTES if s} | {"write"}
    assert needed == set(SCOPES)
    assert len(_cases()) > 60


def test_the_write_key_only_sends_events_in() -> None:
    """#2, #3: the write key is public (browsers carry it): no route reads anything with it,
    and none lets it speak for a person named in the URL (consent, profiling answers)."""
    write_routes = {(m, p) for m, p, s in ROUTES if s == "write"}
    assert write_routes == set()
    care_routes = {(m, p) for m, p, s in ROUTES if s == "care"}
    assert {("POST", "/v1/consent/{id}"), ("POST", "/v1/profiling/{id}/answers")} <= care_routes


def test_a_write_key_cannot_ask_about_a_person(tmp_path: Path) -> None:
    """#2: POST /v1/decide with the public key revealed a customer's data, and its 404 for
    strangers told who is a customer."""
    ws = Workspace(db=tmp_path / "d.duckdb")
    keys = make_keys(ws)
    with TestClient(create_app(ws)) as c:
        ev = {"userId": "ada", "type": "identify", "traits": {"email": "ada@example.com"}}
        assert c.post("/v1/identify", json=ev, headers=basic(keys["write"])).status_code == 200
        known = c.post("/v1/decide", json={"person": "email:ada@example.com"},
                       headers=bearer(keys["write"]))  # fmt: skip
        stranger = c.post("/v1/decide", json={"person": "email:nobody@example.com"},
                          headers=bearer(keys["write"]))  # fmt: skip
        assert known.status_code == stranger.status_code == 403
        assert known.json()["code"] == stranger.json()["code"] == "forbidden"
        # the same answer for a customer and a stranger, and nothing of the customer in it (the
        # key id is random hex, so a bare "ada" may be in it by chance: 1 run in ~700 was)
        assert known.json() == stranger.json()
        assert "ada@example.com" not in known.text and '"ada"' not in known.text
        read = c.post("/v1/decide", json={"person": "email:ada@example.com"},
                      headers=bearer(keys["read"]))  # fmt: skip
        assert read.status_code not in (401, 403)
    ws.close()


def test_revoked_and_rotated_keys_stop_working(
    app_and_keys: tuple[TestClient, dict[str, str]],
) -> None:
    c, keys = app_and_keys
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
                  headers=bearer(a["care"])).status_code == 200
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
        "test-write", "test-read", "test-care", "test-admin"}
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
    app_and_keys: tuple[TestClient, dict[str, str]],
) -> None:
    c, keys = app_and_keys
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


# -- #13: read keys change nothing; care keys are what CX agents get -------------------------
def test_scopes_are_the_contract() -> None:
    assert {s: set(g) for s, g in GRANTS.items()} == {
        "write": {"write"}, "read": {"read"}, "care": {"read", "care"},
        "admin": {"write", "read", "care", "admin"}}  # fmt: skip


@pytest.mark.parametrize("action", ["ack", "resolve"])
def test_a_read_key_cannot_act_on_care_alerts(
    app_and_keys: tuple[TestClient, dict[str, str]], action: str
) -> None:
    c, keys = app_and_keys
    url = f"/v1/care/alerts/p_nobody/{action}"
    r = c.post(url, json={"note": "x"}, headers=bearer(keys["read"]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    # A care key gets past the scope check (to the alert lookup: there is no such alert).
    r = c.post(url, json={"note": "x"}, headers=bearer(keys["care"]))
    assert r.status_code == 404, r.text


def test_care_keys_read_without_customers_words(
    app_and_keys: tuple[TestClient, dict[str, str]],
) -> None:
    c, keys = app_and_keys
    r = c.get("/v1/care", headers=bearer(keys["care"]))
    assert r.status_code == 200, r.text
    assert c.get("/v1/care/webhooks", headers=bearer(keys["care"])).status_code == 403


# -- #11: bodies are capped while they stream in, before anyone is trusted -------------------
class Body:
    """A streamed request body (no Content-Length) that records how much the server took."""

    def __init__(self, total: int, chunk: int = 64 * 1024, head: bytes = b"") -> None:
        self.total, self.chunk, self.head, self.sent = total, chunk, head, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            self.sent += len(self.head)
            yield self.head
        while self.sent < self.total:
            self.sent += self.chunk
            yield b" " * self.chunk


def _post(c: TestClient, path: str, body: Body, headers: dict[str, str]) -> httpx.Response:
    """POST through httpx's ASGI transport, which hands the app the body chunk by chunk as
    the app asks for it (the TestClient reads it all first); the app is already started."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=c.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(path, content=body, headers=headers)

    return asyncio.run(go())


@pytest.mark.parametrize(("path", "limit"), [
    ("/v1/batch", 500 * 1024), ("/v1/track", 32 * 1024), ("/v1/t", 32 * 1024),
    ("/v1/journeys/funnel", MAX_BODY_BYTES), ("/admin/keys", MAX_BODY_BYTES),
    ("/v1/decide", MAX_BODY_BYTES), ("/admin/import/upload?name=e.jsonl", 0),
])  # fmt: skip
def test_a_huge_body_without_a_key_is_refused_before_it_is_read(
    app_and_keys: tuple[TestClient, dict[str, str]], path: str, limit: int
) -> None:
    c, _ = app_and_keys
    body = Body(300 * 1024 * 1024, head=b'{"batch": [')
    r = _post(c, path, body, {"content-type": "application/json"})
    assert r.status_code in (401, 413), r.text
    assert r.json()["code"] in ("unauthorized", "too_large")
    assert body.sent <= limit + 2 * body.chunk, f"the server read {body.sent:,} bytes"
    # Said up front, a size over the limit is refused before a byte is read.
    body = Body(300 * 1024 * 1024 if limit else 2 * 1024**3)
    r = _post(c, path, body, {"content-length": str(body.total)})
    assert r.status_code in (401, 413) and body.sent == 0


@pytest.mark.parametrize("path", ["/v1/journeys/funnel", "/admin/keys", "/v1/decide",
                                  "/v1/care/alerts/a1/ack", "/admin/import"])  # fmt: skip
def test_outside_tracking_no_known_key_means_not_a_byte_read(
    app_and_keys: tuple[TestClient, dict[str, str]], path: str
) -> None:
    """Authenticate first: only tracking (analytics.js sends its key inside the body) and the
    sign-in form read a body from a caller without a key."""
    c, _ = app_and_keys
    for headers in ({}, bearer("emp_admin_unknown"), {"cookie": "empatia_session=forged"}):
        body = Body(150 * 1024 * 1024, head=b'{"steps": [')
        r = _post(c, path, body, {"content-type": "application/json", **headers})
        assert r.status_code == 401 and body.sent == 0, (headers, r.status_code, body.sent)


def test_a_tracking_key_in_the_header_is_checked_before_the_body(
    app_and_keys: tuple[TestClient, dict[str, str]],
) -> None:
    c, keys = app_and_keys
    for secret in ("emp_write_unknown", keys["revoked"], keys["read"]):
        body = Body(10 * 1024 * 1024, head=b'{"batch": [')
        r = _post(c, "/v1/batch", body, basic(secret))
        assert r.status_code in (401, 403) and body.sent == 0, (r.status_code, body.sent)


def test_bodies_within_the_limits_still_work(app_and_keys: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = app_and_keys
    big = {"userId": "u-big", "event": "Big", "type": "track", "properties": {"x": "y" * 25_000}}
    assert c.post("/v1/track", json=big, headers=basic(keys["write"])).status_code == 200
    batch = {"batch": [big] * 18}  # ~450 KB
    assert c.post("/v1/batch", json=batch, headers=basic(keys["write"])).status_code == 200
    in_body = {**big, "writeKey": keys["write"]}  # analytics.js sends the key in the body
    assert c.post("/v1/t", content=__import__("orjson").dumps(in_body),
                  headers={"content-type": "text/plain"}).status_code == 200  # fmt: skip
    assert c.post("/v1/batch", json={"batch": [big] * 25}, headers=basic(keys["write"])).status_code == 413
    steps = {"steps": ["A", "B"], "person_ids": [f"p_{i:07d}" for i in range(60_000)]}  # ~0.7 MB
    r = c.post("/v1/journeys/funnel", json=steps, headers=bearer(keys["read"]))
    assert r.status_code not in (413, 500), r.text
    steps["person_ids"] = steps["person_ids"] * 2
    r = c.post("/v1/journeys/funnel", json=steps, headers=bearer(keys["read"]))
    assert r.status_code == 413 and r.json()["code"] == "too_large"


# -- #7: server paths stay inside the workspace's own folder ---------------------------------
@pytest.fixture
def shops(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Path, Path]]:
    """Two workspaces in one server, each in its own folder; shop B has a source file."""
    a, b = tmp_path / "a", tmp_path / "b"
    wa, wb = Workspace(db=a / "a.duckdb"), Workspace(db=b / "b.duckdb")
    keys = make_keys(wa)
    make_keys(wb)
    (b / "secret.jsonl").write_text('{"type":"track","event":"B only","userId":"b-user"}\n')
    with TestClient(create_app(workspaces={"a": wa, "b": wb})) as c:
        yield c, keys, a, b
    wa.close()
    wb.close()


def test_import_reads_only_the_workspace_folder(
    shops: tuple[TestClient, dict[str, str], Path, Path],
) -> None:
    c, keys, a, b = shops
    admin = bearer(keys["admin"])
    (a / "link.jsonl").symlink_to(b / "secret.jsonl")
    for path in (str(b / "secret.jsonl"), "../b/secret.jsonl", "link.jsonl", "/etc/passwd",
                 str(b / "b.duckdb"), "a.duckdb"):  # fmt: skip
        r = c.post("/admin/import", json={"paths": [path]}, headers=admin)
        assert r.status_code == 403, (path, r.text)
        assert str(a.resolve()) in r.json()["message"] or "store file" in r.json()["message"]
    assert c.get("/admin/stats", headers=admin).json()["total"] == 0
    (a / "mine.jsonl").write_text('{"type":"track","event":"A","userId":"a-user"}\n')
    for path in ("mine.jsonl", str(a / "mine.jsonl")):
        r = c.post("/admin/import", json={"paths": [path]}, headers=admin)
        assert r.status_code == 200 and r.json()["files"][0]["rows"] == 1, r.text


def test_import_upload_takes_the_file_as_the_body(
    shops: tuple[TestClient, dict[str, str], Path, Path],
) -> None:
    c, keys, a, _ = shops
    admin = bearer(keys["admin"])
    lines = b'{"type":"track","event":"Up","userId":"u1"}\n{"type":"nonsense"}\n'
    r = c.post("/admin/import/upload", params={"name": "events.jsonl"}, content=lines, headers=admin)
    assert r.status_code == 200, r.text
    f = r.json()["files"][0]
    assert (f["path"], f["accepted"], f["rejected"]) == ("events.jsonl", 1, 1)
    assert Path(f["reject_file"]).parent == a.resolve()
    assert c.get("/admin/stats", headers=admin).json()["total"] == 1
    for name in ("../x.jsonl", "events.exe", ""):
        r = c.post("/admin/import/upload", params={"name": name}, content=lines, headers=admin)
        assert r.status_code == 400, (name, r.text)
    r = c.post("/admin/import/upload", params={"name": "e.jsonl"}, content=lines,
               headers=bearer(keys["read"]))  # fmt: skip
    assert r.status_code == 403


def test_partner_export_writes_only_inside_the_workspace_folder(
    shops: tuple[TestClient, dict[str, str], Path, Path],
) -> None:
    c, keys, a, b = shops
    admin = bearer(keys["admin"])
    (a / "partner.toml").write_text('name = "p"\nfields = ["person_id"]\nsource = "event_persons"\n')
    (b / "partner.toml").write_text('name = "p"\nfields = ["person_id"]\nsource = "event_persons"\n')
    before = (b / "b.duckdb").read_bytes()
    for contract, out in (("partner.toml", str(b / "b.duckdb")), ("partner.toml", "../b/x.csv"),
                          (str(b / "partner.toml"), "x.csv"), ("partner.toml", "a.duckdb"),
                          ("partner.toml", "a.duckdb.wal")):  # fmt: skip
        r = c.post("/admin/partners/export", json={"contract": contract, "out": out,
                                                     "format": "csv"}, headers=admin)  # fmt: skip
        assert r.status_code == 403, (contract, out, r.text)
    assert (b / "b.duckdb").read_bytes() == before and not (b / "x.csv").exists()
    r = c.post("/admin/partners/export", json={"contract": "partner.toml", "out": "out/p.csv",
                                                 "format": "csv"}, headers=admin)  # fmt: skip
    assert r.status_code == 200, r.text
    assert (a / "out" / "p.csv").exists()


def test_workspaces_sharing_a_folder_refuse_server_paths(tmp_path: Path) -> None:
    wa, wb = Workspace(db=tmp_path / "a.duckdb"), Workspace(db=tmp_path / "b.duckdb")
    keys = make_keys(wa)
    (tmp_path / "e.jsonl").write_text('{"type":"track","event":"A","userId":"a"}\n')
    with TestClient(create_app(workspaces={"a": wa, "b": wb})) as c:
        r = c.post("/admin/import", json={"paths": ["e.jsonl"]}, headers=bearer(keys["admin"]))
        assert r.status_code == 403 and "share the folder" in r.json()["message"]
    wa.close()
    wb.close()


# -- #14: the store is private to its owner ------------------------------------------------
def test_the_store_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        ws = Workspace(db=tmp_path / "s.duckdb")
        keys = make_keys(ws)
        with TestClient(create_app(ws)) as c:
            assert c.post("/v1/track", json=_EVENT, headers=basic(keys["write"])).status_code == 200
            wal = tmp_path / "s.duckdb.wal"
            assert wal.exists()
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        ws.close()
        assert stat.S_IMODE((tmp_path / "s.duckdb").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_an_old_world_readable_store_is_made_private(tmp_path: Path) -> None:
    ws = Workspace(db=tmp_path / "o.duckdb")
    ws.store  # noqa: B018 - creates it
    ws.close()
    os.chmod(tmp_path / "o.duckdb", 0o644)
    ws = Workspace(db=tmp_path / "o.duckdb")
    ws.store  # noqa: B018 - opens it
    ws.close()
    assert stat.S_IMODE((tmp_path / "o.duckdb").stat().st_mode) == 0o600


def test_cli_import_through_the_server_uploads_files_outside_the_folder(tmp_path: Path) -> None:
    """#7 kept `empatia import` working: files beside the store are named, others uploaded."""
    import json

    from typer.testing import CliRunner

    from empatia.cli import app as cli_app
    from tests.conftest import ServerProcess, count_events

    db = tmp_path / "shop" / "shop.duckdb"
    db.parent.mkdir()
    inside, outside = db.parent / "in.jsonl", tmp_path / "elsewhere" / "out.jsonl"
    outside.parent.mkdir()
    for f, n in ((inside, 3), (outside, 4)):
        f.write_text("\n".join(json.dumps({"type": "track", "event": "E", "userId": f"{f.stem}{i}"})
                               for i in range(n)))  # fmt: skip
    server = ServerProcess(db).start()
    try:
        r = CliRunner().invoke(cli_app, ["--db", str(db), "import", str(inside), str(outside)])
        assert r.exit_code == 0, r.output
        assert "through it" in r.output and "out.jsonl" in r.output
    finally:
        server.stop()
    assert count_events(db) == 7


@pytest.mark.parametrize(("method", "path", "kw"), [
    ("POST", "/admin/import", {"json": {"paths": ["a\x00b.jsonl"]}}),
    ("POST", "/admin/partners/export", {"json": {"contract": "c\x00.toml", "out": "x.csv"}}),
    ("GET", "/v1/experience/hurt/orders", {"params": {"days": "9e55"}}),
    ("POST", "/v1/journeys/funnel", {"json": {"steps": ["A", "B"], "within_days": 9e55}}),
])  # fmt: skip
def test_what_the_nightly_fuzzing_found_is_a_400(
    shops: tuple[TestClient, dict[str, str], Path, Path], method: str, path: str, kw: dict[str, Any]
) -> None:
    """benchmarks/api_fuzz.py found these answering 500 (a NUL in a server path; a number of
    days too large for DuckDB's interval)."""
    c, keys, _, _ = shops
    r = c.request(method, path, headers=bearer(keys["admin"]), **kw)
    assert r.status_code == 400 and r.json()["code"] == "invalid", r.text
