"""An event sent to the tracking API is attached to its person within seconds, not nightly."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace


def test_a_tracked_event_finds_its_person_while_the_server_runs(workspace: Workspace) -> None:
    _, key = create_key(workspace.store, "write")
    with TestClient(create_app(workspace)) as c:
        auth = (key, "")
        r = c.post("/v1/identify", auth=auth,
                   json={"userId": "u-42", "anonymousId": "cookie-1", "traits": {"email": "ada@example.com"}})  # fmt: skip
        assert r.status_code == 200
        r = c.post("/v1/track", auth=auth, json={"anonymousId": "cookie-1", "event": "Product Viewed"})
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        people: list[tuple[object, ...]] = []
        while time.monotonic() < deadline:
            cur = workspace.store.cursor()
            try:
                if cur.execute("select count(*) from information_schema.tables where table_name = 'event_persons'").fetchone()[0]:  # type: ignore[index]  # noqa: E501
                    people = cur.execute(
                        "select distinct ep.person_id from events e join event_persons ep using (seq)"
                    ).fetchall()
            finally:
                cur.close()
            if len(people) == 1 and workspace.store.con.execute(
                "select count(*) from event_persons").fetchone() == (2,):  # fmt: skip
                break
            time.sleep(0.1)
    assert len(people) == 1  # both events, one person: the cookie was stitched to the account
