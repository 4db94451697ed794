"""The same rules as :mod:`empatia.ingest.normalize`, in Python, for the HTTP hot path.

Planning the SQL validation costs DuckDB ~10 ms per statement, far too slow for one small
group commit every few milliseconds; checking a parsed event in Python costs microseconds. The
two implementations are held together by a differential property test
(``tests/ingest/test_normalize_properties.py``): for any input both give the same verdict,
the same reason and the same stored fields.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from empatia.ingest.normalize import (
    CONTROL, EARLIEST, EVENT_TYPES, FUTURE_SLACK, ID_FIELDS, KNOWN, PRODUCT_FIELDS, RULES,
    TOO_EARLY, TOO_LATE,
)  # fmt: skip

_OBJECTS = ("properties", "traits", "context", "integrations")
_TIMES = ("timestamp", "originalTimestamp", "sentAt")
_CONTROL = re.compile(CONTROL)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
#: Deepest nesting an event may have: deeper JSON cannot be written back (orjson stops at 254)
#: and no real event comes near it.
MAX_DEPTH = 64
TOO_DEEP = f"the event is nested more than {MAX_DEPTH} levels deep"


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
        d = d.replace(tzinfo=UTC)
    return d


def _us(d: datetime) -> int:
    return (d - _EPOCH) // _US


def _event_us(e: dict[str, Any], received_at: datetime) -> int | None:
    """The event's time in µs since 1970 after skew correction (integers: no overflow)."""
    orig = _time(e.get("timestamp")) if e.get("timestamp") is not None else None
    if orig is None and e.get("timestamp") is None:
        orig = _time(e.get("originalTimestamp"))
    sent = _time(e.get("sentAt"))
    if orig is None:
        return None
    if sent is None:
        return _us(orig)
    return _us(received_at) - (_us(sent) - _us(orig))


def depth(text: str) -> int:
    """How deeply a JSON text nests (``[[1]]`` is 2), ignoring brackets inside strings."""
    deepest = level = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


def too_deep(text: str) -> bool:
    """Whether ``text`` nests deeper than :data:`MAX_DEPTH` (scanned only when it might)."""
    return text.count("[") + text.count("{") > MAX_DEPTH and depth(text) > MAX_DEPTH


#: The known properties with their paths split once (this runs for every event).
_KNOWN = [(tuple(path.split(".")), path, rule) for path, rule in KNOWN]
_CURRENCY = re.compile("[A-Za-z]{3}")


def _at(e: dict[str, Any], keys: tuple[str, ...]) -> Any:
    v: Any = e
    for key in keys:
        if type(v) is not dict:
            return None
        v = v.get(key)
    return v


def _breaks(rule: str, v: Any) -> bool:
    """Python twin of ``normalize._breaks``: a present, non-null value that breaks ``rule``."""
    if v is None:
        return False
    number = type(v) in (int, float) and math.isfinite(v)
    if rule == "number":
        return not number
    if rule == "amount":
        return not (number and v >= 0)
    if rule == "rating":
        return not (number and 1 <= v <= 5)
    if rule == "string":
        return not isinstance(v, str)
    if rule == "currency":
        return not (isinstance(v, str) and _CURRENCY.fullmatch(v) is not None)
    return not isinstance(v, list)  # products


#: Known properties by the object they live in: {top: {key: [(order, rest, path, rule)]}}, so
#: an event pays only for the known keys it actually has (checked in ``KNOWN`` order).
_BY_TOP: dict[str, dict[str, list[tuple[int, tuple[str, ...], str, str]]]] = {}
for _i, (_keys, _path, _rule) in enumerate(_KNOWN):
    _BY_TOP.setdefault(_keys[0], {}).setdefault(_keys[1], []).append(
        (_i, _keys[2:], _path, _rule)
    )


def _property_reason(e: dict[str, Any]) -> str | None:
    found = []
    for top, by_key in _BY_TOP.items():
        obj = e.get(top)
        if type(obj) is dict:
            for key in by_key.keys() & obj.keys():
                for i, rest, path, rule in by_key[key]:
                    found.append((i, _at(obj[key], rest) if rest else obj[key], path, rule))
    for _, v, path, rule in sorted(found, key=lambda f: f[0]):
        if _breaks(rule, v):
            return f"{path} must be {RULES[rule]}"
        if rule == "products" and isinstance(v, list):
            for item in v:
                if type(item) is not dict:
                    return f"{path} must be {RULES[rule]}"
            for field, frule in PRODUCT_FIELDS:
                for item in v:
                    if field in item and _breaks(frule, item[field]):
                        return f"{path}[].{field} must be {RULES[frule]}"
    return None


def _is_id(v: Any) -> bool:
    return v is None or (isinstance(v, str | int) and not isinstance(v, bool))


def reason(
    e: Any, text: str, default_type: str | None, max_event_bytes: int,
    received_at: datetime | None = None,
) -> str | None:  # fmt: skip
    """Why the event cannot be stored, or ``None`` when it can (first failing rule wins)."""
    if not isinstance(e, dict):
        return "an event must be a JSON object"
    if len(text.encode()) > max_event_bytes:
        return f"event is {len(text.encode())} bytes; the limit is {max_event_bytes}"
    if too_deep(text):
        return TOO_DEEP
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
    ids = {f: _text(e.get(f)) for f in ID_FIELDS}
    for f, v in ids.items():
        if v is not None and _CONTROL.search(v):
            return f"{f} holds a control character"
    for f, v in ids.items():
        if v is not None and v != "" and v.strip(" ") == "":
            return f"{f} is blank"
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
    now = received_at or datetime.now(UTC)
    us = _event_us(e, now)
    if us is not None and us < _us(EARLIEST):
        return TOO_EARLY
    if us is not None and us > _us(now + FUTURE_SLACK):
        return TOO_LATE
    if "messageId" in e and e["messageId"] is not None and not isinstance(e["messageId"], str):
        return "messageId must be a string"
    return _property_reason(e)


def to_row(
    e: dict[str, Any], text: str, default_type: str | None, fallback_id: str,
    received_at: datetime, source: str,
) -> Row:  # fmt: skip
    """The stored row of a valid event (see :func:`reason`), with Segment's clock-skew
    correction."""
    orig = _time(e.get("timestamp")) if e.get("timestamp") is not None else None
    if orig is None and e.get("timestamp") is None:
        orig = _time(e.get("originalTimestamp"))
    sent = _time(e.get("sentAt"))
    us = _event_us(e, received_at)
    ts = received_at if us is None else _EPOCH + timedelta(microseconds=us)
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
