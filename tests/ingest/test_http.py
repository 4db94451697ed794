"""The tracking API answers and stores as the Segment spec says, and refuses bad input clearly."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import orjson
from fastapi.testclient import TestClient

from empatia.workspace import Workspace

from .conftest import basic, events


def test_track_is_stored_with_original_json_and_server_fields(
    client: TestClient, keys: dict[str, str], workspace: Workspace
) -> None:
    body = {"userId": "u1", "event": "Order Completed", "properties": {"total": 12.5},
            "messageId": "m-1", "timestamp": "2026-01-02T03:04:05Z"}  # fmt: skip
    r = client.post("/v1/track", json=body, headers=basic(keys["write"]))
    assert r.status_code == 200 and r.json() == {"success": True}
    [e] = events(workspace)
    assert e["type"] == "track" and e["event"] == "Order Completed" and e["user_id"] == "u1"
    assert e["message_id"] == "m-1" and e["source"].startswith("key:k_")
    assert json.loads(e["raw"])["properties"] == {"total": 12.5}
    assert e["received_at"] is not None
    assert e["timestamp"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_every_endpoint_and_short_path_accepts_its_type(
    client: TestClient, keys: dict[str, str], workspace: Workspace
) -> None:
    h = basic(keys["write"])
    calls = [
        ("/v1/identify", {"userId": "u", "traits": {"email": "a@b.c"}}),
        ("/v1/page", {"anonymousId": "a", "name": "Home"}),
        ("/v1/screen", {"anonymousId": "a", "name": "Cart"}),
        ("/v1/group", {"userId": "u", "groupId": "g"}),
        ("/v1/alias", {"userId": "u", "previousId": "a"}),
        ("/v1/t", {"anonymousId": "a", "event": "Clicked"}),
        ("/v1/i", {"userId": "u2"}),
        ("/v1/p", {"anonymousId": "a"}),
    ]
    for path, body in calls:
        # analytics.js posts text/plain
        r = client.post(path, content=orjson.dumps(body), headers={**h, "Content-Type": "text/plain"})
        assert r.status_code == 200, (path, r.text)
    types = [e["type"] for e in events(workspace)]
    assert types == ["identify", "page", "screen", "group", "alias", "track", "identify", "page"]


def test_batch_paths_gzip_and_write_key_in_body_or_query(
    client: TestClient, keys: dict[str, str], workspace: Workspace
) -> None:
    batch = {"batch": [{"type": "track", "event": "A", "userId": "u"},
                       {"type": "identify", "userId": "u"}], "writeKey": keys["write"]}  # fmt: skip
    assert client.post("/v1/batch", json=batch).status_code == 200
    gz = gzip.compress(orjson.dumps({"batch": [{"type": "page", "anonymousId": "x"}]}))
    r = client.post("/v1/b", content=gz, headers={**basic(keys["write"]), "Content-Encoding": "gzip"})
    assert r.status_code == 200
    r = client.post(f"/beacon/v1/batch?writeKey={keys['write']}",
                    json={"batch": [{"type": "track", "event": "B", "anonymousId": "y"}]})
    assert r.status_code == 200
    r = client.post("/v1/import", json={"batch": [{"type": "screen", "userId": "z"}]},
                    headers=basic(keys["write"]))
    assert r.status_code == 200
    assert len(events(workspace)) == 5


def test_clock_skew_is_corrected_and_original_kept(
    client: TestClient, keys: dict[str, str], workspace: Workspace
) -> None:
    # The client's clock runs one hour fast: it says the event happened 10 s before sending.
    fast = datetime.now(UTC) + timedelta(hours=1)
    body = {"userId": "u", "event": "E", "timestamp": (fast - timedelta(seconds=10)).isoformat(),
            "sentAt": fast.isoformat()}  # fmt: skip
    assert client.post("/v1/track", json=body, headers=basic(keys["write"])).status_code == 200
    [e] = events(workspace)
    assert abs((e["received_at"] - e["timestamp"]).total_seconds() - 10) < 0.01
    assert e["original_timestamp"] == fast - timedelta(seconds=10)


def test_a_retry_with_the_same_message_id_is_stored_once(
    client: TestClient, keys: dict[str, str], workspace: Workspace
) -> None:
    body = {"userId": "u", "event": "E", "messageId": "same"}
    for _ in range(3):
        assert client.post("/v1/track", json=body, headers=basic(keys["write"])).status_code == 200
    batch = {"batch": [dict(body, type="track"), dict(body, type="track")]}
    assert client.post("/v1/batch", json=batch, headers=basic(keys["write"])).status_code == 200
    assert len(events(workspace)) == 1
    # a retried batch that also carries new events: the new ones are kept, the old one once
    mixed = {"batch": [dict(body, type="track", messageId=m) for m in ("new-1", "same", "new-2")]}
    assert client.post("/v1/batch", json=mixed, headers=basic(keys["write"])).status_code == 200
    assert sorted(e["message_id"] for e in events(workspace)) == ["new-1", "new-2", "same"]


def _refused(client: TestClient, path: str, status: int, words: str, **kw: object) -> None:
    r = client.post(path, **kw)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert words in r.json()["message"], r.json()


def test_bad_input_gets_a_clear_4xx_and_nothing_is_stored(
    client: TestClient, keys: dict[str, str], workspace: Workspace
) -> None:
    h = basic(keys["write"])
    _refused(client, "/v1/track", 400, "not valid JSON", content=b"{oops", headers=h)
    _refused(client, "/v1/track", 400, "missing both userId and anonymousId",
             json={"event": "E"}, headers=h)
    _refused(client, "/v1/track", 400, "properties must be an object",
             json={"userId": "u", "event": "E", "properties": [1]}, headers=h)
    _refused(client, "/v1/track", 400, "track needs an event name",
             json={"userId": "u"}, headers=h)
    _refused(client, "/v1/track", 400, "timestamp must be an ISO-8601",
             json={"userId": "u", "event": "E", "timestamp": "yesterday"}, headers=h)
    _refused(client, "/v1/track", 400, "userId must be a string",
             json={"userId": {"a": 1}, "event": "E"}, headers=h)
    big = {"userId": "u", "event": "E", "properties": {"x": "a" * 33_000}}
    _refused(client, "/v1/track", 413, "over 32768 bytes", json=big, headers=h)
    heavy = {"batch": [{"type": "track", "event": "E", "userId": "u",
                        "properties": {"x": "a" * 30_000}}] * 20}  # 600 KB
    _refused(client, "/v1/batch", 413, "over 512000 bytes", json=heavy, headers=h)
    split = {"batch": [{"type": "page", "userId": "u"}] * 2501}
    _refused(client, "/v1/batch", 413, "the limit is 2500", json=split, headers=h)
    _refused(client, "/v1/track", 401, "unknown key", json={"userId": "u", "event": "E"},
             headers=basic("nope"))
    _refused(client, "/v1/track", 401, "no key", json={"userId": "u", "event": "E"})
    _refused(client, "/v1/track", 403, "scope 'read'", json={"userId": "u", "event": "E"},
             headers=basic(keys["read"]))
    assert events(workspace) == []


def test_a_batch_with_one_bad_event_is_refused_whole(
    client: TestClient, keys: dict[str, str], workspace: Workspace
) -> None:
    batch = {"batch": [{"type": "track", "event": "Fine", "userId": "u"},
                       {"type": "track", "event": "Fine", "userId": "v"},
                       {"type": "track", "event": "Broken"}]}  # fmt: skip
    r = client.post("/v1/batch", json=batch, headers=basic(keys["write"]))
    assert r.status_code == 400
    assert r.json()["message"].startswith("event 2: missing both userId and anonymousId")
    assert "nothing from this request was stored" in r.json()["message"]
    assert events(workspace) == []
    # ...while a good request in the same moment is unaffected
    r = client.post("/v1/batch", json={"batch": batch["batch"][:2]}, headers=basic(keys["write"]))
    assert r.status_code == 200 and len(events(workspace)) == 2


def test_revoked_key_is_refused(client: TestClient, keys: dict[str, str], workspace: Workspace) -> None:
    from empatia.privacy.keys import list_keys, revoke_key

    wk = next(k for k in list_keys(workspace.store) if k.scope == "write")
    revoke_key(workspace.store, wk.key_id)
    client.app.state.tenants.first.keyring.refresh()  # type: ignore[attr-defined]
    _refused(client, "/v1/track", 401, "revoked", json={"userId": "u", "event": "E"},
             headers=basic(keys["write"]))


def test_tracking_paths_say_they_take_post(client: TestClient) -> None:
    for path in ("/v1/track", "/v1/batch", "/beacon/v1/batch"):
        r = client.get(path)
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert "POST" in r.json()["message"]


def test_tracking_paths_work_with_a_trailing_slash_and_under_a_root_path(
    keys: dict[str, str], workspace: Workspace
) -> None:
    from empatia.api.app import create_app

    body = {"userId": "u", "event": "E"}
    with TestClient(create_app(workspace), root_path="/empatia") as c:
        for path in ("/v1/track/", "/empatia/v1/track"):
            assert c.post(path, json=body, headers=basic(keys["write"])).status_code == 200
    assert len(events(workspace)) == 2
