"""The web UI under hostile use (finding #12 of issue #13): forged cross-site requests, login
CSRF, open redirects, framing, a cookie that gives the key away or outlives sign-out, and
care actions by a key without the ``care`` scope (finding #13)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.web.auth import safe_next
from empatia.web.sessions import COOKIE, Sessions
from empatia.workspace import Workspace
from tests.web.conftest import WebWorld, csrf, sign_in, signin_token

HX = {"hx-request": "true"}
EVIL = "https://evil.example"


def _signed_in(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def _refused(r: object, why: str = "") -> None:
    assert r.status_code == 403, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["code"] == "csrf" and why in body["message"], body


# -- forged requests ---------------------------------------------------------------------------
def test_a_form_post_without_the_csrf_token_is_refused(empty_client):
    client, keys = empty_client
    sign_in(client, keys["care"])
    _refused(client.post("/signout"), "CSRF token")  # what a forged form sends: no token
    _refused(client.post("/signout", data={"csrf_token": "guessed"}), "CSRF token")
    _refused(client.post("/care/a_x/ack", headers=HX), "CSRF token")
    # the pages' own JSON calls carry it too: the cookie alone changes nothing
    _refused(client.post("/v1/care/alerts/a_x/ack", json={}), "CSRF token")
    assert _signed_in(client)  # nothing happened
    # with the page's token it works
    r = client.post("/signout", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and not _signed_in(client)


def test_the_htmx_header_carries_the_token(empty_client):
    client, keys = empty_client
    sign_in(client, keys["care"])
    token = csrf(client)
    r = client.post("/v1/care/alerts/a_nobody/ack", json={}, headers={"X-CSRF-Token": token})
    assert r.status_code == 404  # past the CSRF check: the alert does not exist


def test_a_request_from_another_site_is_refused_even_with_the_token(empty_client):
    client, keys = empty_client
    sign_in(client, keys["admin"])
    token = {"csrf_token": csrf(client)}
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site", "Origin": "https://shop.testserver"}):  # fmt: skip
        _refused(client.post("/signout", data=token, headers=headers), "cross-site")
        assert _signed_in(client)
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert (
        client.post("/signout", data=token, headers=same, follow_redirects=False).status_code == 303
    )


def test_a_key_in_the_authorization_header_needs_no_token(empty_client):
    client, keys = empty_client
    sign_in(client, keys["read"])  # a session cookie too: the header decides
    r = client.post("/v1/care/alerts/a_nobody/ack", json={},
                    headers={"Authorization": f"Bearer {keys['admin']}", "Origin": EVIL})  # fmt: skip
    assert r.status_code == 404


def test_login_csrf_is_refused(empty_client):
    """Another site cannot sign a browser in with the attacker's key."""
    client, keys = empty_client
    r = client.post("/signin", data={"key": keys["read"], "next": "/"}, follow_redirects=False)
    _refused(r, "sign-in form")
    assert COOKIE not in r.headers.get("set-cookie", "") and not _signed_in(client)
    # the attacker's own form token does not match this browser's cookie
    with TestClient(client.app) as attacker:
        theirs = signin_token(attacker)
    signin_token(client)
    r = client.post("/signin", data={"key": keys["read"], "csrf_token": theirs})
    _refused(r, "sign-in form")
    token = signin_token(client)
    r = client.post("/signin", data={"key": keys["read"], "csrf_token": token},
                    headers={"Sec-Fetch-Site": "cross-site"})  # fmt: skip
    _refused(r, "cross-site")
    assert not _signed_in(client)


# -- redirects ---------------------------------------------------------------------------------
OPEN_REDIRECTS = ["//evil.example", "/\\evil.example", "\\/evil.example", "/%2F%2Fevil.example",
                  "/%5Cevil.example", "/%252F%252Fevil.example", "https://evil.example/",
                  "http:/evil.example", "/\t/evil.example", "evil.example", "javascript:alert(1)"]  # fmt: skip


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_sign_in_never_redirects_off_site(empty_client, target):
    client, keys = empty_client
    assert 'name="next" value="/"' in client.get("/signin", params={"next": target}).text
    data = {"key": keys["read"], "next": target, "csrf_token": signin_token(client)}
    r = client.post("/signin", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_safe_next_keeps_paths_on_this_site():
    assert safe_next("/customers/p_1?tab=care") == "/customers/p_1?tab=care"
    assert safe_next("/customers?q=a%40b.example") == "/customers?q=a%40b.example"
    assert all(safe_next(t) == "/" for t in OPEN_REDIRECTS + ["", None])


# -- headers and cookies -----------------------------------------------------------------------
def test_every_answer_forbids_framing_and_foreign_scripts(empty_client):
    client, keys = empty_client
    pages = [client.get("/signin")]
    sign_in(client, keys["read"])
    pages += [client.get(p) for p in ("/", "/audiences", "/customers", "/health", "/v1/care")]
    for r in pages:
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, r.url
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp, r.url
        assert r.headers.get("x-frame-options") == "DENY", r.url
        assert r.headers.get("x-content-type-options") == "nosniff", r.url
        assert r.headers.get("referrer-policy") == "same-origin", r.url
    for r in pages[:4]:  # HTML: nothing inline that the policy would block
        assert " style=" not in r.text and "<style" not in r.text and " onclick=" not in r.text


def test_the_cookie_holds_a_session_id_not_the_key(empty_client):
    client, keys = empty_client
    sign_in(client, keys["admin"])
    sid = client.cookies.get(COOKIE)
    assert sid and len(sid) >= 40
    assert all(keys["admin"] not in v and not v.startswith("emp_") for v in client.cookies.values())
    first = sid
    sign_in(client, keys["admin"])  # a new id at every sign-in (no session fixation)
    assert client.cookies.get(COOKIE) != first
    with TestClient(client.app, cookies={COOKIE: first}) as stale:
        assert stale.get("/v1/care").status_code == 401


def test_after_sign_out_the_old_cookie_opens_nothing(empty_client):
    client, keys = empty_client
    sign_in(client, keys["admin"])
    old = dict(client.cookies.items())  # a copy of every cookie the browser held
    assert old.get(COOKIE)
    r = client.post("/signout", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    with TestClient(client.app, cookies=old) as replay:
        assert replay.get("/v1/care").status_code == 401
        assert replay.get("/", follow_redirects=False).headers["location"].startswith("/signin")


def test_revoking_the_key_ends_its_web_sessions(empty_client):
    client, keys = empty_client
    sign_in(client, keys["read"])
    key_id = next(k["key_id"] for k in client.get("/admin/keys", headers=_bearer(keys["admin"])).json()
                  if k["scope"] == "read")  # fmt: skip
    assert client.delete(f"/admin/keys/{key_id}", headers=_bearer(keys["admin"])).status_code == 200
    assert client.get("/v1/care").status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/signin")


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_the_cookie_is_secure_behind_https_and_a_tls_proxy(empty_client):
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    client, keys = empty_client
    with TestClient(client.app, base_url="https://testserver") as direct:
        sign_in(direct, keys["read"])
        assert [c.secure for c in direct.cookies.jar if c.name == COOKIE] == [True]
    # TLS ends at a proxy that says so in X-Forwarded-Proto (uvicorn's proxy headers on)
    proxied = ProxyHeadersMiddleware(client.app, trusted_hosts="*")
    with TestClient(proxied, headers={"X-Forwarded-Proto": "https"}) as behind:
        r = behind.get("/signin")
        assert "Secure" in r.headers["set-cookie"]
        token = r.text.split('name="csrf_token" value="')[1].split('"')[0]
        r = behind.post("/signin", data={"key": keys["read"], "csrf_token": token},
                        headers={"Cookie": f"empatia_signin={token}"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "Secure" in cookie and "HttpOnly" in cookie
    # plain http (local use): a Secure cookie would never come back
    assert "Secure" not in TestClient(client.app).get("/signin").headers["set-cookie"]


def test_sessions_end_after_their_lifetime():
    sessions = Sessions(lifetime_s=0.05)
    sid = sessions.create("emp_read_x")
    assert sessions.secret(sid) == "emp_read_x"
    time.sleep(0.1)
    assert sessions.secret(sid) is None and sessions.csrf(sid) is None
    assert sessions.secret(None) is None and sessions.secret("made-up") is None


# -- care actions by scope ---------------------------------------------------------------------
def test_only_care_keys_acknowledge_or_resolve_in_the_ui(web_world: WebWorld, tmp_path: Path):
    db = web_world.copy(tmp_path / "w.duckdb")
    alert = web_world.facts["care_alert"]

    def status(ws: Workspace) -> str:
        row = ws.store.con.execute("select status from care_alerts where alert_id = ?", [alert])
        return str(row.fetchone()[0])

    with Workspace(db=db) as ws, TestClient(create_app(ws)) as client:
        sign_in(client, web_world.read)
        page = client.get("/dashboard/care", headers=HX).text
        assert alert in page and "/ack" not in page and "Resolve" not in page  # no buttons
        token = {"X-CSRF-Token": csrf(client)}
        for action in ("ack", "resolve"):
            r = client.post(f"/care/{alert}/{action}", headers=HX | token)
            assert r.status_code == 403 and "'care'" in r.json()["message"]
        assert status(ws) == "open"

        sign_in(client, web_world.care)
        page = client.get("/dashboard/care", headers=HX).text
        assert f'hx-post="/care/{alert}/ack"' in page and 'name="csrf_token"' in page
        token = {"X-CSRF-Token": csrf(client)}
        r = client.post(f"/care/{alert}/ack", headers=HX | token)
        assert r.status_code == 200 and status(ws) == "acknowledged"
        # a plain form goes back where it came from, never to the Referer
        r = client.post(f"/care/{alert}/resolve", follow_redirects=False,
                        data={"csrf_token": token["X-CSRF-Token"], "next": "//evil.example"},
                        headers={"Referer": EVIL})  # fmt: skip
        assert r.status_code == 303 and r.headers["location"] == "/" and status(ws) == "resolved"
        assert client.post(f"/care/{alert}/delete", headers=HX | token).status_code == 400
