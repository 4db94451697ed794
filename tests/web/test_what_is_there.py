"""Pages show what they have: texts not analysed yet, values that are not numbers, malformed
properties and long histories never take a page down; the page says what is pending or
invalid instead.

Events go in through the real tracking endpoint of the demo world's app and are attached to
their person by its stitching thread; no stage runs after them, so their texts stay pending.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace
from tests.web.conftest import WebWorld, sign_in


@dataclass
class Live:
    client: TestClient
    ws: Workspace
    write: str

    def track(self, user_id: str, event: str, properties: dict[str, Any], **extra: Any) -> None:
        body = {"userId": user_id, "event": event, "properties": properties, **extra}
        r = self.client.post("/v1/track", json=body, auth=(self.write, ""))
        assert r.status_code == 200, r.text

    def person_of(self, user_id: str, timeout: float = 20) -> str:
        """The person the stitching thread attached ``user_id``'s events to."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = (
                self.ws.store.cursor()
                .execute(
                    "select person_id from identities where kind = 'user_id' and value = ?",
                    [user_id],
                )
                .fetchone()
            )
            if row:
                return str(row[0])
            time.sleep(0.2)
        raise AssertionError(f"{user_id} was never attached to a person")

    def settle(self, person_id: str, n: int, timeout: float = 20) -> None:
        """Wait until ``person_id`` has at least ``n`` events attached."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = (
                self.ws.store.cursor()
                .execute("select count(*) from event_persons where person_id = ?", [person_id])
                .fetchone()
            )
            if got and got[0] >= n:
                return
            time.sleep(0.2)
        raise AssertionError(f"{person_id} has fewer than {n} events")


@pytest.fixture
def live(web_world: WebWorld, tmp_path: Path) -> Iterator[Live]:
    db = web_world.copy(tmp_path / "w.duckdb")
    ws = Workspace(db=db)
    _, write = create_key(ws.store, "write", "site")
    with TestClient(create_app(ws)) as client:
        sign_in(client, web_world.admin)
        yield Live(client, ws, write)
    ws.close()


def _user_of(ws: Workspace, person_id: str) -> str:
    row = ws.store.con.execute(
        "select value from identities where kind = 'user_id' and person_id = ? limit 1", [person_id]
    ).fetchone()
    assert row, "the person has no user id"
    return str(row[0])


def test_a_text_not_analysed_yet_is_said_not_a_500(live: Live, web_world: WebWorld) -> None:
    talker = web_world.facts["talker"]  # has analysed texts already
    before = live.ws.store.con.execute(
        "select count(*) from event_persons where person_id = ?", [talker]
    ).fetchone()[0]
    user = _user_of(live.ws, talker)
    for text in ("Where is my parcel? Third time asking.", "Still nothing.", "Hello?"):
        live.track(user, "Message Sent", {"text": text, "channel": "email"})
    live.settle(talker, before + 3)
    r = live.client.get(f"/customers/{talker}")
    assert r.status_code == 200, r.text[-2000:]
    assert "3 messages not analysed yet — run `empatia run`." in r.text
    assert r.text.count("not analysed yet</span>") == 3
    assert "Third time asking" in r.text  # the words are there, without a score

    live.track("u-new-writer", "Review Submitted", {"text": "Meh.", "rating": 3})
    newcomer = live.person_of("u-new-writer")
    live.settle(newcomer, 1)
    r = live.client.get(f"/customers/{newcomer}")
    assert r.status_code == 200, r.text[-2000:]
    assert "1 message not analysed yet — run `empatia run`." in r.text


def legacy(ws: Workspace, seq: int, properties: dict[str, Any]) -> None:
    """Give a stored event properties ingest refuses today, as a store written before ingest
    checked known properties holds them (pages must still show such stores)."""
    ws.store.con.execute(
        "update events set raw = json_merge_patch(raw, ?::json)::varchar where seq = ?",
        [orjson.dumps({"properties": properties}).decode(), seq],
    )


def _seq_of(ws: Workspace, value: str, key: str = "order_id") -> int:
    """The first stored event whose ``properties.<key>`` is ``value``."""
    row = ws.store.con.execute(
        f"select min(seq) from events where json_extract_string(raw, '$.properties.{key}') = ?",
        [value],
    ).fetchone()
    assert row and row[0] is not None, value
    return int(row[0])


def test_an_order_total_that_is_not_a_number_is_shown_invalid(live: Live) -> None:
    live.track("u-odd-buyer", "Order Completed", {"order_id": "ODD-1", "total": 40,
               "currency": "EUR", "products": [{"sku": "x", "quantity": 2}]})  # fmt: skip
    live.track("u-odd-buyer", "Order Completed", {"order_id": "ODD-2", "total": 12.5})
    live.track("u-odd-buyer", "Order Refunded", {"order_id": "ODD-1", "amount": "all of it"})
    live.track("u-odd-buyer", "Support Contact", {"case_id": "C-ODD", "topic": "delivery"})
    pid = live.person_of("u-odd-buyer")
    live.settle(pid, 4)
    legacy(live.ws, _seq_of(live.ws, "ODD-1"),
           {"total": "forty", "products": [{"sku": "x", "quantity": "two"}, "junk", None]})  # fmt: skip
    legacy(live.ws, _seq_of(live.ws, "ODD-2"), {"products": "not a list"})
    legacy(live.ws, _seq_of(live.ws, "C-ODD", "case_id"), {"wait_seconds": "long"})
    r = live.client.get(f"/customers/{pid}")
    assert r.status_code == 200, r.text[-2000:]
    html = r.text
    assert "forty (invalid)" in html and "invalid amount &#39;forty&#39;" in html
    assert "invalid amount &#39;all of it&#39;" in html  # a refund's amount ingest lets through
    assert "ODD-2" in html and "12.50" in html
    assert "could not be computed" not in html


def test_older_contacts_are_a_link_away(live: Live) -> None:
    user = "u-chatty"
    for day in range(200):  # 200 contacts on 200 days: more than one page of the timeline
        live.track(user, "Support Contact", {"case_id": f"CX{day:03d}", "topic": "billing"},
                   timestamp=f"2026-0{1 + day // 31 % 6}-{1 + day % 28:02d}T{day % 24:02d}:00:00Z")  # fmt: skip
    pid = live.person_of(user)
    live.settle(pid, 200)
    html = live.client.get(f"/customers/{pid}").text
    assert "Older contacts not shown" not in html
    import re

    seen = set(re.findall(r"CX\d{3}", html))
    link = re.search(r'href="(/customers/[^"]+/contacts\?[^"]+)"', html)
    assert link, "no way to the older contacts"
    pages = 0
    while link:
        r = live.client.get(link.group(1).replace("&amp;", "&"))
        assert r.status_code == 200
        page = set(re.findall(r"CX\d{3}", r.text))
        assert page and not (page & seen), "a page repeats contacts already shown"
        seen |= page
        link = re.search(r'href="(/customers/[^"]+/contacts\?[^"]+)"', r.text)
        pages += 1
        assert pages < 5
    assert seen == {f"CX{d:03d}" for d in range(200)}  # every contact, each once
    assert live.client.get("/customers/p_nobody/contacts").status_code == 404
    r = live.client.get(f"/customers/{pid}/contacts", params={"before": "yesterday"})
    assert r.status_code == 400 and r.json()["code"] == "invalid"
