"""An event sent to the tracking API is attached to its person within seconds, not nightly."""

from __future__ import annotations

import time
from pathlib import Path

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


def test_one_workspace_rebuilding_its_identities_does_not_hold_up_another(
    tmp_path: Path,
) -> None:
    """Two shops on one server: while shop A's identities are being rebuilt (the batch holds
    A's write lock), shop B's new events still find their person within seconds."""
    a, b = Workspace(db=tmp_path / "a" / "a.duckdb"), Workspace(db=tmp_path / "b" / "b.duckdb")
    _, key_b = create_key(b.store, "write")
    with TestClient(create_app(workspaces={"a": a, "b": b})) as c:
        with a.store.write_lock:  # as resolve() holds it for a rebuild of shop A
            r = c.post("/v1/track", auth=(key_b, ""),
                       json={"userId": "u-7", "event": "Product Viewed"})  # fmt: skip
            assert r.status_code == 200
            deadline = time.monotonic() + 10
            found = 0
            while time.monotonic() < deadline and not found:
                with b.store.read() as cur:
                    if b.store.table_exists("event_persons"):
                        found = cur.execute("select count(*) from event_persons").fetchone()[0]  # type: ignore[index]
                time.sleep(0.1)
            assert found == 1, "shop B's event waited for shop A's rebuild"
    a.close()
    b.close()
