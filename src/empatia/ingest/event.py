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
    """µs since 1970 (integers: skew correction cannot overflow a datetime)."""
    return (d - _EPOCH) // _US


_EARLIEST_US = _us(EARLIEST)


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
    number = (type(v) is float and math.isfinite(v)) or type(v) is int
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
_BY_TOP_ITEMS = tuple(_BY_TOP.items())


def _property_reason(e: dict[str, Any]) -> str | None:
    found = []
    for top, by_key in _BY_TOP_ITEMS:
        obj = e.get(top)
        if type(obj) is dict:
            for key, value in obj.items():
                specs = by_key.get(key)
                if specs is not None:
                    for i, rest, path, rule in specs:
                        found.append((i, _at(value, rest) if rest else value, path, rule))
    if len(found) > 1:
        found.sort(key=_first)
    for _, v, path, rule in found:
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


def _first(found: tuple[Any, ...]) -> Any:
    return found[0]


def _is_id(v: Any) -> bool:
    return v is None or (isinstance(v, str | int) and not isinstance(v, bool))


def parse(
    e: Any, text: str, default_type: str | None, max_event_bytes: int, received_at: datetime,
    fallback_id: str, source: str,
) -> Row | str:  # fmt: skip
    """The stored row of an event, or why it cannot be stored (first failing rule wins).

    One pass over the event: this runs for every event the server receives, so each field is
    read, converted and parsed once and serves both the checks and the row.
    """
    if not isinstance(e, dict):
        return "an event must be a JSON object"
    why = _size_reason(text, max_event_bytes)
    if why is not None:
        return why
    get = e.get
    raw_type = get("type")
    t = _text(raw_type) if raw_type is not None else default_type
    if t is None or t not in EVENT_TYPES:
        if raw_type is not None and not isinstance(raw_type, str):
            shown = "must be a string"
        else:
            shown = f'"{t}"' if t is not None else "is missing"
        return f"type {shown} (one of {', '.join(EVENT_TYPES)})"
    ids = _ids(get)
    if isinstance(ids, str):
        return ids
    user_id, anonymous_id, previous_id, group_id = ids
    event = get("event")
    why = _shape_reason(get, t, event, user_id, previous_id, group_id)
    if why is not None:
        return why
    times = _times(get, received_at)
    if isinstance(times, str):
        return times
    us, orig, sent = times
    mid = get("messageId")
    if mid is not None and not isinstance(mid, str):
        return "messageId must be a string"
    why = _property_reason(e)
    if why is not None:
        return why
    return Row(
        message_id=mid if mid else fallback_id,
        type=t,
        event=event if event is None or type(event) is str else _text(event),
        name=_text(get("name")),
        user_id=user_id,
        anonymous_id=anonymous_id,
        previous_id=previous_id,
        group_id=group_id,
        timestamp=received_at if us is None else _EPOCH + timedelta(microseconds=us),
        original_timestamp=orig,
        sent_at=sent,
        received_at=received_at,
        source=source,
        raw=text,
    )


def _size_reason(text: str, max_event_bytes: int) -> str | None:
    if len(text) * 4 > max_event_bytes:  # a code point is at most 4 bytes of UTF-8
        size = len(text.encode())
        if size > max_event_bytes:
            return f"event is {size} bytes; the limit is {max_event_bytes}"
    if len(text) > MAX_DEPTH and too_deep(text):
        return TOO_DEEP
    return None


_Ids = tuple[str | None, str | None, str | None, str | None]


def _ids(get: Any) -> _Ids | str:
    """userId, anonymousId, previousId, groupId as stored (trimmed text), or what is wrong."""
    uid, aid, pid, gid = get("userId"), get("anonymousId"), get("previousId"), get("groupId")
    if not _is_id(uid):
        return "userId must be a string"
    if not _is_id(aid):
        return "anonymousId must be a string"
    texts = (
        uid if uid is None or type(uid) is str else _text(uid),
        aid if aid is None or type(aid) is str else _text(aid),
        pid if pid is None or type(pid) is str else _text(pid),
        gid if gid is None or type(gid) is str else _text(gid),
    )
    for f, v in zip(ID_FIELDS, texts, strict=True):
        if v is not None and _CONTROL.search(v):
            return f"{f} holds a control character"
    for f, v in zip(ID_FIELDS, texts, strict=True):
        if v and not v.strip(" "):
            return f"{f} is blank"
    user_id, anonymous_id, previous_id, group_id = (
        (v.strip(" ") or None) if v else None for v in texts
    )
    if user_id is None and anonymous_id is None:
        return "missing both userId and anonymousId"
    return user_id, anonymous_id, previous_id, group_id


def _shape_reason(get: Any, t: str, event: Any, user_id: str | None, previous_id: str | None,
                  group_id: str | None) -> str | None:  # fmt: skip
    """What the event's type needs, and the fields that must be objects."""
    if t == "track" and (not isinstance(event, str) or event.strip(" ") == ""):
        return 'track needs an event name (a non-empty string in "event")'
    if t == "alias" and (user_id is None or previous_id is None):
        return "alias needs both userId and previousId"
    if t == "group" and group_id is None:
        return "group needs a groupId"
    for f in _OBJECTS:
        v = get(f)
        if v is not None and not isinstance(v, dict):
            return f"{f} must be an object"
    return None


def _times(get: Any, received_at: datetime
           ) -> tuple[int | None, datetime | None, datetime | None] | str:  # fmt: skip
    """(the event's time in µs corrected for clock skew, originalTimestamp, sentAt), or what
    is wrong with them."""
    raw_stamp, raw_original, raw_sent = get("timestamp"), get("originalTimestamp"), get("sentAt")
    stamp = original = sent = None
    if raw_stamp is not None and (stamp := _time(raw_stamp)) is None:
        return "timestamp must be an ISO-8601 date-time"
    if raw_original is not None and (original := _time(raw_original)) is None:
        return "originalTimestamp must be an ISO-8601 date-time"
    if raw_sent is not None and (sent := _time(raw_sent)) is None:
        return "sentAt must be an ISO-8601 date-time"
    orig = stamp if raw_stamp is not None else original
    if orig is None:
        us = None
    elif sent is None:
        us = _us(orig)
    else:
        us = _us(received_at) - (_us(sent) - _us(orig))
    if us is not None:
        if us < _EARLIEST_US:
            return TOO_EARLY
        if us > _us(received_at + FUTURE_SLACK):
            return TOO_LATE
    return us, orig, sent
