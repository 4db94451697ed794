"""Property tests: any JSON is either stored faithfully or refused with a reason — never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from empatia.ingest.normalize import EVENT_TYPES, KNOWN, insert_sql, parse_sql, reject_sql
from empatia.store import Store

_store = Store(":memory:")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)  # fmt: skip
ids = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip(" ") != ""
)
# Ids a person could never be: control characters, blank.
bad_ids = st.sampled_from(["\u0000", "\t", "a\nb", "\x7f", "\x9f", " ", "   ", ""])
# Values for the known properties: right and wrong types, edges of the ranges.
numbers = st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
property_values = (
    numbers | st.sampled_from([0, -0.0, 1, 5, 5.5, 0.99, -1, "forty", "42", "EUR", "usd", "EURO",
                               "E1R", "", None, True, [], {}])
    | st.text(max_size=4) | json_values
)  # fmt: skip
products = st.lists(
    st.fixed_dictionaries({}, optional={"product_id": st.text(max_size=3), "price": property_values,
                                        "quantity": property_values}) | json_values,
    max_size=3,
)  # fmt: skip
known_properties = st.dictionaries(
    st.sampled_from([p.split(".")[-1] for p, _ in KNOWN if p.startswith("properties.")]),
    property_values, max_size=3,
).flatmap(lambda d: st.just(d) | products.map(lambda p: {**d, "products": p}))
#: The names of the known properties (of ``properties`` and ``context``), checked on the way in.
_CHECKED = {p.split(".")[1] for p, _ in KNOWN if p.count(".") >= 1}
# Times a client may send: any year (clocks reset to 0001 or run ahead to 9999).
times = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()) | st.sampled_from(
    ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
     "9999-12-31T23:59:59-05:00", "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z"]
)
valid_events = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page", "screen"]), "userId": ids},
    optional={
        "anonymousId": ids,
        # any names but those of the known properties, whose values are checked (below)
        "properties": st.dictionaries(st.text(max_size=8).filter(lambda k: k not in _CHECKED),
                                      json_values, max_size=4),  # fmt: skip
        "context": st.dictionaries(st.text(max_size=8).filter(lambda k: k not in _CHECKED),
                                   json_values, max_size=3),  # fmt: skip
        "timestamp": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime.now(),
                                  timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        "messageId": ids,
    },
).map(lambda e: {**e, "event": "Something Happened"} if e["type"] == "track" else e)


def _run(
    texts: list[str], now: datetime | None = None
) -> tuple[list[tuple[int, int, str]], list[tuple[str, ...]]]:
    con = _store.cursor()
    con.execute("delete from events")
    now = now or datetime.now(UTC)
    staging = pa.table({
        "batch": pa.array([0] * len(texts), pa.int32()), "idx": pa.array(range(len(texts)), pa.int64()),
        "text": texts, "source": ["test"] * len(texts),
        "received_at": pa.array([now] * len(texts), pa.timestamp("us", tz="UTC")),
        "default_type": pa.array([None] * len(texts), pa.string()),
        "fallback_id": [f"f{i}" for i in range(len(texts))],
    })  # fmt: skip
    con.register("st", staging)
    con.execute(f"create or replace temp table p as {parse_sql('st')}")
    rejects = con.execute(reject_sql("p", 32768)).fetchall()
    bad = {i for _, i, _ in rejects}
    good = ",".join(str(i) for i in range(len(texts)) if i not in bad) or "-1"
    con.execute(insert_sql("p", f"idx in ({good})"))
    rows = con.execute('select message_id, type, user_id, raw, "timestamp" from events').fetchall()
    con.close()
    return rejects, rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_events)
def test_valid_events_are_stored_with_their_fields_and_raw_json(event: dict[str, object]) -> None:
    text = orjson.dumps(event).decode()
    rejects, rows = _run([text])
    assert rejects == []
    [(message_id, type_, user_id, raw, _)] = rows
    assert type_ == event["type"]
    assert user_id == str(event["userId"]).strip(" ")  # ids are trimmed of spaces
    assert message_id == event.get("messageId", "f0")
    assert json.loads(raw) == json.loads(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values.map(lambda v: orjson.dumps(v).decode()), st.text(max_size=40)))
def test_anything_is_stored_or_refused_with_a_reason(text: str) -> None:
    rejects, rows = _run([text])
    assert len(rejects) + len(rows) == 1
    for _, _, reason in rejects:
        assert reason and isinstance(reason, str)
    for _, type_, _, _, _ in rows:
        assert type_ in EVENT_TYPES


def _python(text: str, now: datetime) -> tuple[str | None, tuple[object, ...] | None]:
    from empatia.ingest.event import parse

    try:
        e = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "malformed JSON", None
    r = parse(e, text, None, 32768, now, "f0", "test")
    if isinstance(r, str):
        return r, None
    return None, (r.message_id, r.type, r.user_id, r.timestamp)


event_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from([*EVENT_TYPES, "launch"]) | json_values,
        "userId": ids | bad_ids | st.integers(0, 10**9) | json_values,
        "anonymousId": ids | bad_ids | st.none(),
        "event": st.text(max_size=5) | json_values,
        "previousId": ids | bad_ids, "groupId": ids | bad_ids | json_values,
        "properties": known_properties | json_values,
        "traits": st.fixed_dictionaries({"email": json_values}) | json_values,
        "context": st.fixed_dictionaries({"traits": st.fixed_dictionaries({"email": json_values})})
                   | json_values,
        "timestamp": times | json_values,
        "originalTimestamp": times,
        "sentAt": times | st.none(),
        "messageId": ids | json_values,
    },
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_like)
@example({"type": "track", "userId": "u"})
@example({"type": "track", "userId": "u", "event": "Order Completed",
          "properties": {"total": "forty"}})  # issue 14, finding 1
@example({"type": "track", "userId": "u", "event": "E",
          "timestamp": "9999-12-31T00:00:00Z", "sentAt": "0001-01-01T00:00:00Z"})
@example({"type": "track", "userId": "u", "event": "E",
          "timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"})
@example({"type": "track", "userId": "\u0000", "event": "E"})
@example({"type": "track", "userId": "u", "event": "Order Completed",
          "properties": {"products": [{"price": 2}, {"price": "x"}]}})
def test_python_and_sql_validation_agree(event: dict[str, object]) -> None:
    text = orjson.dumps(event).decode()
    now = datetime.now(UTC)
    rejects, rows = _run([text], now)
    sql_reason = rejects[0][2] if rejects else None
    py_reason, py_row = _python(text, now)
    assert py_reason == sql_reason
    if py_row is not None:
        assert (*rows[0][:3], rows[0][4]) == py_row


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_like)
def test_what_is_stored_has_a_time_the_pages_can_show(event: dict[str, object]) -> None:
    now = datetime.now(UTC)
    _, rows = _run([orjson.dumps(event).decode()], now)
    for *_, ts in rows:
        assert datetime(2000, 1, 1, tzinfo=UTC) <= ts <= now + timedelta(days=1)
