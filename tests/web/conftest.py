"""Fixtures of the web UI tests: a small demo world run through the whole pipeline (built
once per session), an in-process client on one copy of it, and — for the browser tests — a
real ``empatia serve`` on another copy with Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace
from tests.conftest import ServerProcess

CUSTOMERS = 100
SEED = 21
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip


@dataclass
class WebWorld:
    """The built store (a template to copy), its keys, and people worth looking at."""

    template: Path
    admin: str
    read: str
    care: str
    facts: dict[str, Any] = field(default_factory=dict)

    def copy(self, to: Path) -> Path:
        shutil.copy(self.template, to)
        return to


def _facts(ws: Workspace) -> dict[str, Any]:
    con = ws.store.con
    care = con.execute(
        "select l.person_id, l.alert_id from care_list l join care_alerts a using (alert_id)"
        " where a.status = 'open' order by l.rank limit 1").fetchone()  # fmt: skip
    named = con.execute(
        "select person_id, first_name, last_name, phone, email from profiles"
        " where email is not null and first_name is not null and length(last_name) >= 6"
        " and person_id in (select person_id from identities where kind = 'phone')"
        " order by orders desc, person_id limit 1").fetchone()  # fmt: skip
    words = con.execute(
        "select ep.person_id, count(*) from text_analysis t join event_persons ep using (seq)"
        " group by 1 order by 2 desc, 1 limit 1").fetchone()  # fmt: skip
    assert care and named and words, "the demo world lacks a care case, a named person or texts"
    phone = con.execute("select value from identities where kind = 'phone' and person_id = ? limit 1",
                        [named[0]]).fetchone()  # fmt: skip
    assert phone, "the named person has no phone identifier"
    return {"care_person": care[0], "care_alert": care[1], "named": named[0],
            "first_name": named[1], "last_name": named[2], "phone": phone[0], "email": named[4],
            "talker": words[0]}  # fmt: skip


@pytest.fixture(scope="session")
def web_world(tmp_path_factory: pytest.TempPathFactory) -> WebWorld:
    from empatia.demo import build_world, import_world
    from empatia.pipeline import RunContext, run_pipeline

    d = tmp_path_factory.mktemp("web")
    world = build_world(d / "world", customers=CUSTOMERS, seed=SEED)
    template = d / "template.duckdb"
    with Workspace(db=template) as ws:
        import_world(ws.store, world)
        run_pipeline(RunContext(ws, settings={"emotion": {"analyzer": "fast", "themes": False}}))
        _, admin = create_key(ws.store, "admin", "web admin")
        _, read = create_key(ws.store, "read", "web analyst")
        _, care = create_key(ws.store, "care", "web agent")
        facts = _facts(ws)
        ws.store.checkpoint()
    return WebWorld(template, admin, read, care, facts)


def signin_token(client: TestClient) -> str:
    """The sign-in form's CSRF token (its cookie is set on the client by the same answer)."""
    page = client.get("/signin").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: TestClient, secret: str) -> None:
    data = {"key": secret, "next": "/", "csrf_token": signin_token(client)}
    r = client.post("/signin", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text


def csrf(client: TestClient) -> str:
    """The signed-in session's CSRF token, as the pages carry it."""
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/customers").text)
    assert found, "no CSRF token on the page: not signed in?"
    return found.group(1)


@pytest.fixture(scope="session")
def world_client(
    web_world: WebWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An in-process app on its own copy of the world, signed in with the admin key."""
    db = web_world.copy(tmp_path_factory.mktemp("inproc") / "w.duckdb")
    ws = Workspace(db=db)
    with TestClient(create_app(ws)) as client:
        sign_in(client, web_world.admin)
        yield client
    ws.close()


@pytest.fixture
def empty_client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app on a brand-new store (no stage has run), with a key of every scope."""
    ws = Workspace(db=tmp_path / "empty.duckdb")
    keys = {s: create_key(ws.store, s, s)[1] for s in ("admin", "read", "care", "write")}
    with TestClient(create_app(ws)) as client:
        yield client, keys
    ws.close()


# -- the browser -------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def web_server(
    web_world: WebWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """``empatia serve`` in a subprocess on its own copy of the world."""
    db = web_world.copy(tmp_path_factory.mktemp("served") / "w.duckdb")
    srv = ServerProcess(db).start(timeout=60)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the session (a persistent context on a fresh profile)."""
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        pytest.fail("the browser tests need Playwright: pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium: run scripts/install-system-deps.sh")
    profile = tmp_path_factory.mktemp("chromium-profile")
    pw = sync_playwright().start()
    ctx = pw.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS,
        viewport={"width": 1366, "height": 900}, locale="en-GB", timezone_id="UTC",
    )  # fmt: skip
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()
        pw.stop()


@pytest.fixture
def page(browser: Any, web_server: ServerProcess, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tab; console errors and page errors fail the test; a screenshot at the end."""
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    pg.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    pg.base = web_server.url
    pg.errors = errors
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    pg.close()
    assert not errors, errors


@pytest.fixture(autouse=True)
def _one_blas_thread() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
