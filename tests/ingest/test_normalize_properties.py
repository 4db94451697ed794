"""Property tests: any JSON is either stored faithfully or refused with a reason — never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from empatia.ingest.normalize import EVENT_TYPES, insert_sql, parse_sql, reject_sql
from empatia.store import Store

_store = Store(":memory:")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False,
    allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)  # fmt: skip
ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda s: s.strip(" ") != ""
)
valid_events = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page", "screen"]), "userId": ids},
    optional={
        "anonymousId": ids,
        "properties": st.dictionaries(st.text(max_size=8), json_values, max_size=4),
        "context": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        "timestamp": st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                                  timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        "messageId": ids,
    },
).map(lambda e: {**e, "event": "Something Happened"} if e["type"] == "track" else e)


def _run(texts: list[str]) -> tuple[list[tuple[int, int, str]], list[tuple[str, ...]]]:
    con = _store.cursor()
    con.execute("delete from events")
    now = datetime.now(UTC)
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
    rows = con.execute("select message_id, type, user_id, raw from events").fetchall()
    con.close()
    return rejects, rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_events)
def test_valid_events_are_stored_with_their_fields_and_raw_json(event: dict[str, object]) -> None:
    text = orjson.dumps(event).decode()
    rejects, rows = _run([text])
    assert rejects == []
    [(message_id, type_, user_id, raw)] = rows
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
    for _, type_, _, _ in rows:
        assert type_ in EVENT_TYPES


def _python(text: str) -> tuple[str | None, tuple[str, ...] | None]:
    from empatia.ingest.event import reason, to_row

    try:
        e = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "malformed JSON", None
    why = reason(e, text, None, 32768)
    if why is not None:
        return why, None
    r = to_row(e, text, None, "f0", datetime.now(UTC), "test")
    return None, (r.message_id, r.type, r.user_id)


event_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from([*EVENT_TYPES, "launch"]) | json_values,
        "userId": ids | st.integers(0, 10**9) | json_values,
        "anonymousId": ids | st.none(),
        "event": st.text(max_size=5) | json_values,
        "previousId": ids, "groupId": ids,
        "properties": json_values, "traits": json_values, "context": json_values,
        "timestamp": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()) | json_values,
        "sentAt": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()) | st.none(),
        "messageId": ids | json_values,
    },
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_like)
def test_python_and_sql_validation_agree(event: dict[str, object]) -> None:
    text = orjson.dumps(event).decode()
    rejects, rows = _run([text])
    sql_reason = rejects[0][2] if rejects else None
    py_reason, py_row = _python(text)
    assert py_reason == sql_reason
    if py_row is not None:
        assert rows[0][:3] == py_row
