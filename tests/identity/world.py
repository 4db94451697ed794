"""Small hand-made event sets for identity and profile tests (no demo generator needed)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from empatia.store import Store

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def ev(
    type: str = "track",
    *,
    user: str | None = None,
    anon: str | None = None,
    event: str | None = None,
    day: float = 0,
    traits: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    previous: str | None = None,
    source: str = "key:test",
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type, "messageId": uuid.uuid4().hex}
    if user:
        body["userId"] = user
    if anon:
        body["anonymousId"] = anon
    if event:
        body["event"] = event
    if previous:
        body["previousId"] = previous
    for key, value in (("traits", traits), ("properties", properties), ("context", context)):
        if value is not None:
            body[key] = value
    body["timestamp"] = (T0 + timedelta(days=day)).isoformat()
    body["_source"] = source
    return body


def add_events(store: Store, events: list[dict[str, Any]]) -> None:
    """Append events to the log the way ingestion stores them."""
    rows = []
    for e in events:
        e = dict(e)
        source = e.pop("_source", "key:test")
        rows.append(
            (
                e["messageId"], e["type"], e.get("event"), e.get("name"), e.get("userId"),
                e.get("anonymousId"), e.get("previousId"), e.get("groupId"),
                datetime.fromisoformat(e["timestamp"]), source, json.dumps(e),
            )
        )  # fmt: skip
    store.con.executemany(
        "insert into events (message_key, message_id, type, event, name, user_id, anonymous_id,"
        ' previous_id, group_id, "timestamp", received_at, source, raw)'
        " values (md5_number(?1), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
        rows,
    )
