"""Real Segment and RudderStack client libraries work unchanged against `empatia serve`."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ServerProcess, count_events


def test_official_segment_python_client_events_are_stored_exactly_once(
    server: ServerProcess, write_key: str, db_path: Path
) -> None:
    from segment.analytics import Client

    errors: list[object] = []
    client = Client(write_key, host=server.url, sync_mode=True,
                    on_error=lambda e, batch: errors.append(e))
    client.identify("user-1", {"email": "ada@example.com", "firstName": "Ada"})
    for i in range(20):
        client.track("user-1", "Product Viewed", {"product_id": f"p{i}", "price": 9.5})
    client.page("user-1", "Shop", "Home")
    client.alias("anon-1", "user-1")
    client.flush()  # sync mode: every call above was already sent and answered
    server.stop()
    assert errors == []
    assert count_events(db_path) == 23


def test_rudderstack_client_with_gzip_is_stored(
    server: ServerProcess, write_key: str, db_path: Path
) -> None:
    from rudderstack.analytics import Client

    errors: list[object] = []
    client = Client(write_key, host=server.url, sync_mode=True, gzip=True,
                    on_error=lambda e, batch: errors.append(e))
    for i in range(5):
        client.track(user_id="user-2", event="Order Completed", properties={"order_id": str(i)})
    client.flush()
    server.stop()
    assert errors == []
    assert count_events(db_path) == 5
