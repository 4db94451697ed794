"""Sign-in, assets and honest empty sections, on a store where no stage has run."""

from __future__ import annotations

import pytest

from empatia.web.render import to_json
from empatia.web.static import asset_url
from tests.web.conftest import csrf, sign_in, signin_token


def test_pages_send_browsers_to_sign_in(empty_client):
    client, _ = empty_client
    for path in ("/", "/customers/p_1?x=1", "/audiences", "/dashboard/emotion"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/signin?next=")
    assert (
        "next=/customers/p_1%3Fx%3D1"
        in client.get("/customers/p_1?x=1", follow_redirects=False).headers["location"]
    )


def test_sign_in_checks_the_key_and_sets_a_strict_cookie(empty_client):
    client, keys = empty_client
    token = signin_token(client)
    r = client.post("/signin", data={"key": "emp_nope", "next": "/", "csrf_token": token})
    assert r.status_code == 401 and "unknown key" in r.text
    r = client.post("/signin", data={"key": keys["write"], "next": "/", "csrf_token": token})
    assert r.status_code == 403 and "needs &#39;read&#39;" in r.text  # a write key may not read
    r = client.post("/signin", data={"key": keys["read"], "next": "//evil.example/",
                                     "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "empatia_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/", follow_redirects=False).status_code == 200
    # the same cookie opens the JSON API too
    assert client.get("/v1/care").status_code == 200
    r = client.post("/signout", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and 'empatia_session=""' in r.headers["set-cookie"]


@pytest.mark.parametrize("scope", ["read", "care", "admin"])
def test_read_care_and_admin_keys_sign_in(empty_client, scope):
    client, keys = empty_client
    sign_in(client, keys[scope])
    assert f"· {scope}</span>" in client.get("/").text


def test_assets_come_from_the_package_compressed_and_cacheable(empty_client):
    client, _ = empty_client
    url = asset_url("vendor/vega-6.4.0.min.js")
    assert url.startswith("/static/vendor/vega-6.4.0.min.js?v=")
    r = client.get(url, headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert "immutable" in r.headers["cache-control"] and r.headers["content-type"].startswith(
        "text/javascript"
    )
    assert r.content.startswith(b"!function") or b"vega" in r.content[:2000]
    assert client.get(url, headers={"if-none-match": r.headers["etag"]}).status_code == 304
    for bad in (
        "/static/../auth.py",
        "/static/%2e%2e/auth.py",
        "/static/nothing.js",
        "/static/.hidden",
    ):
        assert client.get(bad).status_code == 404, bad


def test_every_page_references_only_local_assets(empty_client):
    client, keys = empty_client
    sign_in(client, keys["read"])
    html = client.get("/").text
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert 'src="/static/vendor/htmx-2.0.11.min.js?v=' in html


def test_sections_say_what_has_not_run_instead_of_showing_numbers(empty_client):
    client, keys = empty_client
    sign_in(client, keys["read"])
    hx = {"hx-request": "true"}
    for name, table in (("emotion", "text_analysis"), ("effort", "experience_journeys"),
                        ("scores", "survey_responses"), ("gap", "experience_gap"),
                        ("map", "journey_steps"), ("funnel", "journey_steps"),
                        ("decisions", "decisions")):  # fmt: skip
        r = client.get(f"/dashboard/{name}", headers=hx)
        assert r.status_code == 200
        assert "Not available yet" in r.text and table in r.text, (name, r.text)
        assert "<svg" not in r.text and "application/json" not in r.text
    r = client.get("/dashboard/care", headers=hx)
    assert "Nobody is on the special-care list" in r.text and "empatia run" in r.text
    assert client.get("/dashboard/nothing").status_code == 404
    r = client.get("/customers", params={"q": "ala@example.com"})
    assert r.status_code == 200 and "identity stage has not run" in r.text
    r = client.get("/audiences")
    assert r.status_code == 200 and "has produced no rows in profiles" in r.text


def test_a_section_page_works_without_javascript(empty_client):
    client, keys = empty_client
    sign_in(client, keys["read"])
    r = client.get("/dashboard/funnel")
    assert r.status_code == 200 and "<html" in r.text and "← Dashboard" in r.text


@pytest.mark.parametrize("text", ["</script><script>alert(1)</script>", "a & b <b>"])
def test_chart_data_cannot_break_out_of_its_script_tag(text):
    out = str(to_json({"t": text}))
    assert "<" not in out and ">" not in out and "&" not in out


def test_pages_are_gzipped_when_the_browser_accepts_it(empty_client):
    client, keys = empty_client
    sign_in(client, keys["read"])
    r = client.get("/audiences", headers={"accept-encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    assert r.text.lstrip().lower().startswith("<!doctype html>")
    assert r.num_bytes_downloaded < len(r.content) / 2  # what crossed the wire was compressed
