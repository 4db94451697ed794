"""The customer 360 as data (``empatia.views.customer``) and over HTTP (``/v1/customers``),
on a small demo world run through every stage."""

from __future__ import annotations

import doctest
import importlib
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.errors import NotFoundError
from empatia.privacy.keys import create_key
from empatia.views import customer as views_customer
from empatia.views.customer import Cursor, Viewer, assemble, customer_360, older_contacts
from empatia.workspace import Workspace


@dataclass
class World:
    template: Path
    keys: dict[str, str]  # scope -> secret
    named: str  # a person with a name, an email and a phone
    email: str
    phone: str
    first_name: str
    orders: int
    talker: str  # the person with the most analysed texts

    def copy(self, to: Path) -> Path:
        shutil.copy(self.template, to)
        return to


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    from empatia.demo import build_world, import_world
    from empatia.pipeline import RunContext, run_pipeline

    d = tmp_path_factory.mktemp("views")
    files = build_world(d / "world", customers=100, seed=21)
    with Workspace(db=d / "template.duckdb") as ws:
        import_world(ws.store, files)
        run_pipeline(RunContext(ws, settings={"emotion": {"analyzer": "fast", "themes": False}}))
        keys = {s: create_key(ws.store, s, f"views {s}")[1] for s in ("write", "read", "care", "admin")}
        con = ws.store.con
        named = con.execute(
            "select p.person_id, i.value, p.email, p.first_name, p.orders from profiles p"
            " join identities i on i.person_id = p.person_id and i.kind = 'phone'"
            " where p.email is not null and p.first_name is not null and p.orders > 0"
            " order by p.orders desc, p.person_id limit 1").fetchone()  # fmt: skip
        talker = con.execute(
            "select ep.person_id from text_analysis t join event_persons ep using (seq)"
            " group by 1 order by count(*) desc, 1 limit 1").fetchone()  # fmt: skip
        assert named and talker, "the demo world lacks a named customer or texts"
        ws.store.checkpoint()
    return World(d / "template.duckdb", keys, named[0], named[2], named[1], named[3], named[4],
                 talker[0])  # fmt: skip


@pytest.fixture(scope="module")
def ws(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    w = Workspace(db=world.copy(tmp_path_factory.mktemp("lib") / "w.duckdb"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def client(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    w = Workspace(db=world.copy(tmp_path_factory.mktemp("http") / "w.duckdb"))
    with TestClient(create_app(w)) as c:
        yield c
    w.close()


def as_json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def test_the_360_of_a_customer_says_who_they_are_and_what_they_did(ws: Workspace, world: World):
    c = customer_360(ws, world.named, viewer=Viewer.everything())
    assert c.person_id == world.named and c.name.startswith(world.first_name)
    for name in ("welcome", "consent", "purchases", "timeline", "identity", "service",
                 "decision", "care"):  # fmt: skip
        section = getattr(c, name)
        assert section.ok, (name, section.message)
    assert c.welcome.data and c.welcome.data.orders == world.orders
    assert c.welcome.data.tenure_days and c.welcome.data.tenure_days > 0
    assert c.purchases.data and len(c.purchases.data) == world.orders
    assert all(o.total is not None and o.currency for o in c.purchases.data)
    shown = [i.shown for i in c.identity.data.identifiers]
    assert world.email in shown and world.phone in shown
    rows = c.timeline.data
    assert rows and c.events_shown >= len(rows)
    times = [r.timestamp for r in rows if r.timestamp]
    assert times == sorted(times, reverse=True)  # newest first
    assert c.decision.data and c.decision.data.reason and c.decision.data.action
    assert "marketing_email" in {s.purpose for s in c.consent.data}


def test_an_admin_reads_the_words_and_the_feelings(ws: Workspace, world: World):
    c = customer_360(ws, world.talker, viewer=Viewer.everything())
    assert c.emotion.ok and c.emotion.data and c.emotion.data.points
    said = [r.words for r in c.timeline.data if r.words and not r.words.pending]
    assert said and all(w.text for w in said) and any(w.score is not None for w in said)


def test_a_viewer_without_contact_rights_sees_no_contact_details_and_no_words(
    ws: Workspace, world: World
):
    c = customer_360(ws, world.named)  # the default viewer sees nothing personal
    everything = as_json(c)
    assert world.email not in everything and world.phone not in everything
    assert world.first_name in c.name  # names are shown, as on the page
    shown = {i.kind: i.shown for i in c.identity.data.identifiers}
    assert shown["email"].startswith(world.email[0]) and "•••@" in shown["email"]
    assert shown["phone"] == f"{world.phone[:3]}•••{world.phone[-3:]}"
    assert c.profile and "•••@" in c.profile["email"]
    assert all(m.evidence is None for m in c.identity.data.merges)
    talk = customer_360(ws, world.talker, viewer=Viewer())
    words = [r.words for r in talk.timeline.data if r.words]
    assert words and all(w.text is None for w in words)  # there were words; they are left out
    full = customer_360(ws, world.talker, viewer=Viewer.everything())
    assert not any(w.text and w.text in as_json(talk) for w in
                   (r.words for r in full.timeline.data if r.words))  # fmt: skip


def test_an_unknown_person_is_not_found(ws: Workspace):
    with pytest.raises(NotFoundError) as e:
        customer_360(ws, "p_doesnotexist")
    assert e.value.details["person_id"] == "p_doesnotexist" and "p_doesnotexist" in e.value.message
    with pytest.raises(NotFoundError):
        older_contacts(ws, "p_doesnotexist")
    page = older_contacts(ws, "p_doesnotexist", Cursor(datetime.now(UTC), 0))
    assert page.timeline.ok and page.timeline.data == []  # a later page of nobody: empty


def test_sections_say_which_stage_has_not_run(tmp_path: Path):
    with Workspace(db=tmp_path / "fresh.duckdb") as w:
        w.store.con.execute("insert into identities values ('user_id', 'u1', 'p_u1')")
        c = customer_360(w, "p_u1")
    assert c.identity.ok and [i.shown for i in c.identity.data.identifiers] == ["u1"]
    assert c.timeline.ok and c.timeline.data == [] and c.older is None
    for section, stage in ((c.welcome, "profiles"), (c.decision, "decide")):
        assert not section.ok and section.data is None, stage
        assert f"The {stage} stage has produced no rows" in section.message
        assert "run `empatia run`" in section.message
    assert not c.emotion.ok and "No words from this person have been analysed" in c.emotion.message
    assert c.service.ok and c.service.data and c.service.data.open == []  # nothing to show


def test_older_contacts_continue_where_the_page_stops(ws: Workspace, world: World):
    c = customer_360(ws, world.named, viewer=Viewer.everything())
    everything = older_contacts(ws, world.named)  # from the newest
    assert [r.seq for r in everything.timeline.data] == [r.seq for r in c.timeline.data]
    contacts = [r for r in c.timeline.data if not r.browse]
    assert len(contacts) >= 3
    mid = contacts[len(contacts) // 2]
    page = older_contacts(ws, world.named, Cursor(mid.timestamp, mid.seq))
    assert page.timeline.data and all(
        (r.timestamp, r.seq) < (mid.timestamp, mid.seq) for r in page.timeline.data if not r.browse
    )
    assert mid.seq not in {r.seq for r in page.timeline.data}


def test_the_timeline_is_cut_to_a_page_with_a_cursor_to_the_rest(
    ws: Workspace, world: World, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(assemble, "TIMELINE_ROWS", 3)
    c = customer_360(ws, world.named)
    assert len(c.timeline.data) == 3 and c.older is not None
    last = c.timeline.data[-1]
    nxt = older_contacts(ws, world.named, c.older)
    assert nxt.timeline.data and last.seq not in {r.seq for r in nxt.timeline.data}


def test_a_lookup_pool_gives_the_same_360(ws: Workspace, world: World):
    with ThreadPoolExecutor(4) as pool:
        side_by_side = customer_360(ws, world.talker, executor=pool)
    assert side_by_side == customer_360(ws, world.talker)


@pytest.mark.parametrize("name", ["", ".assemble", ".queries", ".viewer"])
def test_the_docstring_examples_run(name: str):
    result = doctest.testmod(importlib.import_module(views_customer.__name__ + name))
    assert result.failed == 0 and result.attempted > 0


# -- over HTTP --------------------------------------------------------------------------------
def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_http_gives_the_same_data_masked_for_a_read_key(client: TestClient, world: World):
    r = client.get(f"/v1/customers/{world.named}", headers=bearer(world.keys["read"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["person_id"] == world.named and body["name"].startswith(world.first_name)
    assert world.email not in r.text and world.phone not in r.text and "•••@" in r.text
    assert body["welcome"]["ok"] and body["welcome"]["data"]["orders"] == world.orders
    assert len(body["purchases"]["data"]) == world.orders
    assert body["timeline"]["ok"] and body["timeline"]["data"]
    r = client.get(f"/v1/customers/{world.talker}", headers=bearer(world.keys["care"]))
    assert r.status_code == 200
    assert all(row["words"]["text"] is None for row in r.json()["timeline"]["data"] if row["words"])


def test_http_shows_an_admin_everything(client: TestClient, world: World):
    r = client.get(f"/v1/customers/{world.named}", headers=bearer(world.keys["admin"]))
    assert r.status_code == 200 and world.email in r.text and world.phone in r.text
    older = client.get(f"/v1/customers/{world.named}/contacts", headers=bearer(world.keys["admin"]))
    assert older.status_code == 200
    assert [x["seq"] for x in older.json()["timeline"]["data"]] == [
        x["seq"] for x in r.json()["timeline"]["data"]
    ]


def test_http_refuses_a_public_write_key_and_no_key(client: TestClient, world: World):
    for path in (f"/v1/customers/{world.named}", f"/v1/customers/{world.named}/contacts"):
        r = client.get(path, headers=bearer(world.keys["write"]))
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
        assert world.email not in r.text and world.first_name not in r.text
        assert client.get(path).status_code == 401


def test_http_says_an_unknown_person_is_not_found(client: TestClient, world: World):
    r = client.get("/v1/customers/p_doesnotexist", headers=bearer(world.keys["read"]))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert "p_doesnotexist" in r.json()["message"]
    r = client.get(f"/v1/customers/{world.named}/contacts", params={"before": "yesterday"},
                   headers=bearer(world.keys["read"]))  # fmt: skip
    assert r.status_code == 400 and r.json()["code"] == "invalid"
