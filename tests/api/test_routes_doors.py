"""Every documented door is open (issue #14: #4, #6 server side, #11 /docs): the routes the
README names answer, built-in parts fail loudly when missing, ``POST /admin/run`` runs the
pipeline through the server, a locked store says what to do, and /docs works offline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from empatia.api import app as app_module
from empatia.api.app import create_app
from empatia.emotion.incremental import rebuild_aggregates
from empatia.store.engine import DuckDBEngine
from empatia.errors import StoreLockedError
from empatia.workspace import Workspace
from tests.privacy.conftest import ALA, build, fake_emotion

from .conftest import basic, bearer, make_keys


@pytest.fixture(scope="module")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("doors")
    ws = Workspace(db=d / "w.duckdb")
    build(ws, d)
    fake_emotion(ws)
    with DuckDBEngine(ws.store) as eng:
        rebuild_aggregates(eng)
    ws.store.checkpoint()
    ws.close()
    return d / "w.duckdb"


@pytest.fixture
def client(world_db: Path, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    db = tmp_path / "w.duckdb"
    db.write_bytes(world_db.read_bytes())
    ws = Workspace(db=db)
    keys = make_keys(ws)
    with TestClient(create_app(ws)) as c:
        yield c, keys
    ws.close()


# -- #4: the routes the README names -------------------------------------------------------
@pytest.mark.parametrize("identifier", [f"email:{ALA['email']}", ALA["phone"], ALA["user_id"]])
def test_a_profile_is_found_over_http_by_any_identifier(
    client: tuple[TestClient, dict[str, str]], identifier: str
) -> None:
    c, keys = client
    r = c.get(f"/v1/profiles/{identifier}", headers=bearer(keys["read"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["person_id"].startswith("p_")
    assert {"kind": "email", "value": ALA["email"]} in body["identifiers"]
    assert c.get(f"/v1/profiles/{body['person_id']}", headers=bearer(keys["read"])).json() == body


def test_an_unknown_profile_is_a_json_404_and_a_write_key_reads_nothing(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, keys = client
    r = c.get("/v1/profiles/email:nobody@example.com", headers=bearer(keys["read"]))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = c.get(f"/v1/profiles/email:{ALA['email']}", headers=bearer(keys["write"]))
    assert r.status_code == 403 and ALA["email"] not in r.text


def test_a_persons_emotions_without_their_words(client: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = client
    r = c.get(f"/v1/emotion/persons/user_id:{ALA['user_id']}", headers=bearer(keys["read"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["n_texts"] == 1 and body["summary"]["n_negative"] == 1
    assert [t["sentiment"] for t in body["texts"]] == ["negative"]
    assert "zlotykot" not in r.text  # the customer's own text is never in a read answer
    audit = c.get("/admin/audit", headers=bearer(keys["admin"])).json()
    assert any("/v1/emotion/persons" in e["detail"] for e in audit)


def test_emotion_touchpoints_and_themes(client: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = client
    points = c.get("/v1/emotion/touchpoints", headers=bearer(keys["read"])).json()
    assert {p["event"] for p in points} == {"Message Sent", "Review Submitted"}
    assert "delivery" in c.get("/v1/emotion/themes", headers=bearer(keys["read"])).json()
    r = c.put("/v1/emotion/themes", json={"themes": {"parking": ["no parking"]}},
              headers=bearer(keys["admin"]))  # fmt: skip
    assert r.status_code == 200 and r.json()["parking"] == ["no parking"]
    assert c.get("/v1/emotion/themes", headers=bearer(keys["read"])).json()["parking"] == ["no parking"]
    assert c.put("/v1/emotion/themes", json={"themes": {}}, headers=bearer(keys["read"])).status_code == 403


def test_free_text_is_analysed_over_http(client: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = client
    r = c.post("/v1/emotion/analyze", headers=bearer(keys["read"]), json={
        "texts": ["I called seven times and nobody answers, this is a disgrace!"], "analyzer": "fast"})
    assert r.status_code == 200, r.text
    [verdict] = r.json()
    assert verdict["sentiment"] == "negative" and verdict["effort"]
    bad = c.post("/v1/emotion/analyze", json={"texts": ["hi"], "analyzer": "magic"},
                 headers=bearer(keys["read"]))  # fmt: skip
    assert bad.status_code == 400 and "fast" in bad.json()["message"]
    empty = c.post("/v1/emotion/analyze", json={"texts": []}, headers=bearer(keys["read"]))
    assert empty.status_code == 400 and empty.json()["code"] == "invalid"


def test_a_missing_built_in_router_stops_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """It was skipped without a word: the README's routes 404ed."""
    monkeypatch.setitem(sys.modules, "empatia.api.routes.care", None)
    with pytest.raises(ImportError):
        create_app(Workspace(db=":memory:"))


def test_a_missing_stitcher_stops_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without it new events never reached their person while the server ran, silently."""
    monkeypatch.setitem(sys.modules, "empatia.identity.incremental", None)
    with pytest.raises(ImportError), TestClient(create_app(Workspace(db=":memory:"))):
        pass


def test_a_missing_built_in_stage_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from empatia import pipeline
    from empatia.errors import ConfigError
    from empatia.plugins import Registry

    monkeypatch.setitem(sys.modules, "empatia.journeys.stage", None)
    monkeypatch.setattr(pipeline, "STAGES", Registry("empatia.stages"))  # not loaded yet
    with pytest.raises(ConfigError, match=r"empatia.stages 'journeys' .* cannot be loaded"):
        pipeline.ordered_stages()


def route_paths(routes: list[Any]) -> set[str]:
    """Every path the app answers (included routers are walked into)."""
    out: set[str] = set()
    for r in routes:
        inner = getattr(getattr(r, "original_router", None), "routes", None)
        if inner is not None:
            out |= route_paths(inner)
        elif getattr(r, "path", None) is not None:
            out.add(r.path)
    return out


def test_the_app_names_every_router_it_lists() -> None:
    paths = route_paths(create_app(Workspace(db=":memory:")).routes)
    for prefix in ("/v1/profiles", "/v1/emotion", "/v1/care", "/v1/decisions", "/admin/run"):
        assert any(p.startswith(prefix) for p in paths), prefix
    assert len(app_module.ROUTERS) == len(set(app_module.ROUTERS))


# -- #6: the pipeline through the server ----------------------------------------------------
def test_admin_run_runs_the_pipeline_on_the_servers_store(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, keys = client
    ev = {"type": "identify", "userId": "u-new-9", "traits": {"email": "new9@example.com"}}
    assert c.post("/v1/identify", json=ev, headers=basic(keys["write"])).status_code == 200
    r = c.post("/admin/run", json={"only": ["identity", "profiles"]}, headers=bearer(keys["admin"]))
    assert r.status_code == 200, r.text
    summary = r.json()
    assert [s["stage"] for s in summary] == ["identity", "profiles"]
    assert all(isinstance(s["seconds"], float) and isinstance(s["figures"], dict) for s in summary)
    got = c.get("/v1/profiles/email:new9@example.com", headers=bearer(keys["read"]))
    assert got.status_code == 200 and got.json()["profile"]["person_id"] == got.json()["person_id"]


def test_admin_run_refuses_unknown_stages_and_other_scopes(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, keys = client
    r = c.post("/admin/run", json={"only": ["identiti"]}, headers=bearer(keys["admin"]))
    assert r.status_code == 400 and "identity" in r.json()["message"]
    assert c.post("/admin/run", json={}, headers=bearer(keys["care"])).status_code == 403


def test_a_store_owned_by_the_server_says_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(db)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ready"
        url = "http://127.0.0.1:8123"
        Path(str(db) + ".server.json").write_text(
            json.dumps({"url": url, "pid": holder.pid, "token": "emp_admin_secret"}))
        with pytest.raises(StoreLockedError) as e:
            Workspace(db=db).store  # noqa: B018
        msg = e.value.message
        assert f"empatia serve (pid {holder.pid}, {url}) owns this store" in msg
        assert "the Workspace's methods go through it; stop the server" in msg
        assert "emp_admin_secret" not in str(e.value.to_dict())
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]


# -- #11: /docs offline, under the strict CSP --------------------------------------------------
def test_docs_load_only_local_assets_under_the_strict_csp() -> None:
    with TestClient(create_app(Workspace(db=":memory:"))) as c:
        page = c.get("/docs")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        scripts = re.findall(r"<script([^>]*)>", page.text)
        assert refs and all(r.startswith("/") and not r.startswith("//") for r in refs), refs
        assert all("src=" in s for s in scripts), "inline scripts are refused by the CSP"
        for ref in refs:
            r = c.get(ref)
            assert r.status_code == 200 and len(r.content) > 100, ref
        assert "SwaggerUIBundle" in c.get("/docs/assets/swagger-ui-bundle.js").text
        assert c.get(re.search(r'data-openapi="([^"]+)"', page.text)[1]).json()["openapi"]


@pytest.mark.browser
def test_docs_render_in_a_browser_without_the_internet(tmp_path: Path) -> None:
    """Chromium with the strict CSP draws the operations; nothing is refused or fetched away."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import ServerProcess

    if not Path("/usr/bin/chromium").exists():
        pytest.fail("the browser tests need Debian's chromium: run scripts/install-system-deps.sh")
    srv = ServerProcess(tmp_path / "d.duckdb").start(timeout=120)
    problems: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith(srv.url) else problems.append(r.url))
            page.goto(srv.url + "/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert "Empatia" in page.inner_text(".swagger-ui .info .title")
            assert page.locator(".opblock").count() > 40
            browser.close()
    finally:
        srv.stop()
    assert problems == []


def test_every_cursor_a_route_opens_is_closed_once_it_answers(
    client: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads take a short-lived cursor (``store.read()``) and close it; none is left for the
    garbage collector (the care routes used to open one per call and never close it)."""
    import duckdb

    from empatia.store import Store

    issued: list[duckdb.DuckDBPyConnection] = []
    make = Store.cursor

    def tracked(self: Store) -> duckdb.DuckDBPyConnection:
        cur = make(self)
        issued.append(cur)
        return cur

    monkeypatch.setattr(Store, "cursor", tracked)
    c, keys = client
    person = c.get(f"/v1/profiles/email:{ALA['email']}", headers=bearer(keys["read"]))
    pid = person.json()["person_id"]
    for path in ("/v1/care", "/v1/care/alerts", f"/v1/care/{pid}", "/v1/care/webhooks",
                 "/v1/care/deliveries", f"/v1/journeys/persons/{pid}", f"/v1/decisions/{pid}",
                 "/v1/experience/gap", "/v1/journeys/stages"):  # fmt: skip
        r = c.get(path, headers=bearer(keys["admin"]))
        assert r.status_code in (200, 404), (path, r.text)
    assert issued, "the routes read through store.read()"
    still_open = []
    for cur in issued:
        try:
            cur.execute("select 1")
            still_open.append(cur)
        except duckdb.ConnectionException:  # closed, as it should be
            pass
    assert still_open == []
