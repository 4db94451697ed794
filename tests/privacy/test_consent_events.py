"""Consent decisions read from events (the ``privacy`` stage's model step) read a JSON yes or
no exactly as the SQL they replaced did, and skip everything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from empatia.privacy.consent import LEDGER, _granted, ledger_rows

WORDS = ["true", "false", "TRUE", "False", "t", "F", "yes", "No", "Y", "n", "1", "0", "on", "off",
         " true", "yes ", "2", "-1", "", "tru"]  # fmt: skip
VALUES = st.one_of(
    st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS), st.text(max_size=5), st.none(), st.lists(st.booleans(), max_size=2),
)  # fmt: skip
_DUCK = duckdb.connect()


@given(VALUES)
def test_a_json_value_is_a_yes_or_a_no_exactly_as_duckdb_casts_it(value: Any) -> None:
    doc = json.dumps({"a": value})
    row = _DUCK.execute("select try_cast(json_extract_string(?, '$.a') as boolean)", [doc]).fetchone()
    assert _granted(json.loads(doc)["a"]) == (row[0] if row else None)


def _batch(*events: tuple[str, dict[str, Any]]) -> pa.Table:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    return pa.Table.from_pylist([
        {"seq": i, "user_id": f"u{i}", "anonymous_id": None, "event": name, "raw": json.dumps(doc),
         "decided_at": at, "recorded_at": at}
        for i, (name, doc) in enumerate(events, 1)
    ])  # fmt: skip


def test_a_track_and_a_context_make_ledger_rows_and_nothing_else_does() -> None:
    out = ledger_rows(_batch(
        ("Consent Updated", {"properties": {"purpose": " Marketing ", "channel": "SMS", "granted": "yes",
                                            "legal_basis": "consent"}}),
        ("Page Viewed", {"context": {"consent": {"Analytics": False, "profiling": "maybe",
                                                 "unknown_purpose": True}}}),
        ("Consent Updated", {"properties": {"purpose": "telepathy", "granted": True}}),
        ("Consent Updated", {"properties": {"purpose": "care"}}),  # no decision
        ("Order Completed", {"properties": {"purpose": "analytics", "granted": True}}),  # not consent
        ("Consent Updated", "not an object"),
    ))  # fmt: skip
    assert out.schema == LEDGER
    got = [(r["seq"], r["purpose"], r["granted"], r["legal_basis"], r["source"]) for r in out.to_pylist()]
    assert got == [(1, "marketing_sms", True, "consent", "event"),
                   (2, "analytics", False, "consent", "context")]  # fmt: skip
