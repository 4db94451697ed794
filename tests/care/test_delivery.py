"""Webhook delivery against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import orjson

from empatia import care
from empatia.care.config import CareWeights
from empatia.care.delivery import SIGNATURE_HEADER, deliveries, verify_signature
from empatia.store import Store
from tests.care.conftest import Receiver
from tests.care.world import World


def _hook(store: Store, r: Receiver) -> dict[str, object]:
    return care.add_webhook(store.con, r.url, secret="s3cret")


def test_signed_json_delivered_once(cstore: Store, world: World, weights: CareWeights,
                                    receiver: Receiver) -> None:  # fmt: skip
    _hook(cstore, receiver)
    figures = care.run_care(cstore.con, weights)
    n = figures["entered"]
    assert figures["delivered"] == n == len(receiver.delivered) >= 1
    req = receiver.delivered[0]
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert verify_signature(req["body"], headers[SIGNATURE_HEADER.lower()], "s3cret")
    assert not verify_signature(req["body"], headers[SIGNATURE_HEADER.lower()], "wrong")
    body = orjson.loads(req["body"])
    assert body["type"] == "care.alert" and body["person_id"] == "musician"
    assert headers["idempotency-key"] == body["idempotency_key"]
    assert "I will tell" not in req["body"].decode()  # no customer words leave the store
    care.run_care(cstore.con, weights)
    care.deliver_pending(cstore.con, weights.delivery)
    assert len(receiver.requests) == n  # never twice for the same change


def test_retries_with_backoff_until_the_receiver_answers(cstore: Store, world: World,
                                                         weights: CareWeights,
                                                         flaky_receiver: Receiver) -> None:  # fmt: skip
    _hook(cstore, flaky_receiver)
    sleeps: list[float] = []
    figures = care.run_care(cstore.con, weights, sleep=sleeps.append)
    assert figures["failed_attempts"] == 2 and figures["delivered"] == figures["entered"]
    assert sleeps == [0.01, 0.02]  # exponential backoff
    first = [d for d in deliveries(cstore.con) if d["alert_id"] ==
             orjson.loads(flaky_receiver.delivered[0]["body"])["alert_id"]]  # fmt: skip
    assert sorted((d["attempt"], d["status"], d["http_status"]) for d in first) == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 204),
    ]
    keys = [r["headers"]["Idempotency-Key"] for r in flaky_receiver.requests[:3]]
    assert len(set(keys)) == 1  # the same change, retried, same key
    care.run_care(cstore.con, weights)
    assert len(flaky_receiver.delivered) == figures["entered"]


def test_a_dead_receiver_is_given_up_and_logged(cstore: Store, world: World, weights: CareWeights,
                                                dead_receiver: Receiver) -> None:  # fmt: skip
    _hook(cstore, dead_receiver)
    figures = care.run_care(cstore.con, weights, sleep=lambda s: None)
    assert figures["gave_up"] == 1 and figures["failed_attempts"] == 3
    assert figures.get("deferred", 0) == figures["entered"] - 1  # the rest wait for the next run
    hooks = care.list_webhooks(cstore.con)
    assert hooks[0]["gave_up"] == 1 and "secret" not in hooks[0]


def test_unreachable_url_and_bad_url(cstore: Store, world: World, weights: CareWeights) -> None:
    import pytest

    from empatia.care.exceptions import WebhookURLError
    from tests.conftest import free_port

    with pytest.raises(WebhookURLError):
        care.add_webhook(cstore.con, "ftp://example.com")
    care.add_webhook(cstore.con, f"http://127.0.0.1:{free_port()}/nobody")
    figures = care.run_care(cstore.con, weights, sleep=lambda s: None)
    assert figures["gave_up"] == 1
    assert "ConnectError" in deliveries(cstore.con)[0]["error"]


def test_min_score_and_removed_webhooks_get_nothing(cstore: Store, world: World,
                                                    weights: CareWeights, receiver: Receiver) -> None:  # fmt: skip
    import pytest

    from empatia.care.exceptions import WebhookNotFoundError

    picky = care.add_webhook(cstore.con, receiver.url, min_score=0.99)
    gone = care.add_webhook(cstore.con, receiver.url)
    care.remove_webhook(cstore.con, str(gone["webhook_id"]))
    with pytest.raises(WebhookNotFoundError):
        care.remove_webhook(cstore.con, str(gone["webhook_id"]))
    care.run_care(cstore.con, weights)
    assert receiver.requests == []
    assert {h["webhook_id"]: h["active"] for h in care.list_webhooks(cstore.con)} == {
        picky["webhook_id"]: True, gone["webhook_id"]: False}  # fmt: skip


def test_the_deliver_route_uses_the_workspaces_delivery_settings(
    cstore: Store, world: World, weights: CareWeights, flaky_receiver: Receiver
) -> None:
    """`POST /v1/care/deliver` retries as `[stages.care.delivery]` says: with one attempt
    allowed, a receiver that fails twice gets each alert given up, not delivered."""
    from fastapi.testclient import TestClient

    from empatia.api.app import create_app
    from empatia.privacy.keys import create_key
    from empatia.workspace import Workspace

    _hook(cstore, flaky_receiver)
    care.run_care(cstore.con, weights, deliver=False)  # alerts waiting
    db = cstore.path
    cstore.close()
    ws = Workspace(db=db, stages={"care": {"delivery": {"max_attempts": 1,
                                                       "backoff_seconds": 0}}})  # fmt: skip
    _, secret = create_key(ws.store, "admin", "test")
    with TestClient(create_app(ws)) as c:
        r = c.post("/v1/care/deliver", headers={"Authorization": f"Bearer {secret}"})
    ws.close()
    assert r.status_code == 200, r.text
    assert r.json()["gave_up"] >= 1 and not flaky_receiver.delivered
