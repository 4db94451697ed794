"""The same rules as :mod:`empatia.ingest.normalize`, in Python, for the HTTP hot path.

Planning the SQL validation costs DuckDB ~10 ms per statement, far too slow for one small
group commit every few milliseconds; checking a parsed event in Python costs microseconds. The
two implementations are held together by a differential property test
(``tests/ingest/test_normalize_properties.py``): for any input both give the same verdict,
the same reason and the same stored fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import orjson

from empatia.ingest.normalize import EVENT_TYPES

_OBJECTS = ("properties", "traits", "context", "integrations")
_TIMES = ("timestamp", "originalTimestamp", "sentAt")


class Row(NamedTuple):
    """One ``events`` row (without the dedupe key, which SQL derives from ``message_id``)."""

    message_id: str
    type: str
    event: str | None
    name: str | None
    user_id: str | None
    anonymous_id: str | None
    previous_id: str | None
    group_id: str | None
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    received_at: datetime
    source: str
    raw: str


def _text(v: Any) -> str | None:
    """What ``json_extract_string`` gives for a value: strings as they are, else JSON text."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    return orjson.dumps(v).decode()


def _id(v: Any) -> str | None:
    t = _text(v)
    if t is None:
        return None
    t = t.strip(" ")
    return t or None


def _time(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        d = datetime.fromisoformat(v.strip())
    except ValueError:
        return None
    if d.tzinfo is None:
        from datetime import UTC

        d = d.replace(tzinfo=UTC)
    return d


def _is_id(v: Any) -> bool:
    return v is None or (isinstance(v, str | int) and not isinstance(v, bool))


def reason(e: Any, text: str, default_type: str | None, max_event_bytes: int) -> str | None:
    """Why the event cannot be stored, or ``None`` when it can (first failing rule wins)."""
    if not isinstance(e, dict):
        return "an event must be a JSON object"
    if len(text.encode()) > max_event_bytes:
        return f"event is {len(text.encode())} bytes; the limit is {max_event_bytes}"
    raw_type = e.get("type")
    t = _text(raw_type) if raw_type is not None else default_type
    if t is None or t not in EVENT_TYPES:
        if raw_type is not None and not isinstance(raw_type, str):
            shown = "must be a string"
        else:
            shown = f'"{t}"' if t is not None else "is missing"
        return f"type {shown} (one of {', '.join(EVENT_TYPES)})"
    if not _is_id(e.get("userId")):
        return "userId must be a string"
    if not _is_id(e.get("anonymousId")):
        return "anonymousId must be a string"
    if _id(e.get("userId")) is None and _id(e.get("anonymousId")) is None:
        return "missing both userId and anonymousId"
    if t == "track" and (not isinstance(e.get("event"), str) or e["event"].strip(" ") == ""):
        return 'track needs an event name (a non-empty string in "event")'
    if t == "alias" and (_id(e.get("userId")) is None or _id(e.get("previousId")) is None):
        return "alias needs both userId and previousId"
    if t == "group" and _id(e.get("groupId")) is None:
        return "group needs a groupId"
    for f in _OBJECTS:
        if f in e and e[f] is not None and not isinstance(e[f], dict):
            return f"{f} must be an object"
    for f in _TIMES:
        if f in e and e[f] is not None and _time(e[f]) is None:
            return f"{f} must be an ISO-8601 date-time"
    if "messageId" in e and e["messageId"] is not None and not isinstance(e["messageId"], str):
        return "messageId must be a string"
    return None


def to_row(
    e: dict[str, Any], text: str, default_type: str | None, fallback_id: str,
    received_at: datetime, source: str,
) -> Row:  # fmt: skip
    """The stored row of a valid event, with Segment's clock-skew correction."""
    orig = _time(e.get("timestamp")) if e.get("timestamp") is not None else None
    if orig is None and e.get("timestamp") is None:
        orig = _time(e.get("originalTimestamp"))
    sent = _time(e.get("sentAt"))
    if orig is None:
        ts = received_at
    elif sent is None:
        ts = orig
    else:
        ts = received_at - (sent - orig)
    mid = e.get("messageId")
    return Row(
        message_id=mid if isinstance(mid, str) and mid != "" else fallback_id,
        type=_text(e.get("type")) or default_type,  # type: ignore[arg-type]
        event=_text(e.get("event")),
        name=_text(e.get("name")),
        user_id=_id(e.get("userId")),
        anonymous_id=_id(e.get("anonymousId")),
        previous_id=_id(e.get("previousId")),
        group_id=_id(e.get("groupId")),
        timestamp=ts,
        original_timestamp=orig,
        sent_at=sent,
        received_at=received_at,
        source=source,
        raw=text,
    )
