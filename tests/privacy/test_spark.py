"""The privacy stage's consent step on Spark (in Spark's Python workers) writes the ledger
rows it writes on DuckDB."""

from __future__ import annotations

import os
from typing import Any

import pytest

from empatia.privacy.stage import read_consent
from empatia.store import Store
from empatia.store.engine import connect
from tests.identity.world import add_events, ev

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1"),
]


def _ledger(engine: str, session: Any = None) -> list[tuple[Any, ...]]:
    with Store(":memory:") as store:
        add_events(store, [
            ev(user="u1", event="Consent Updated", day=1,
               properties={"purpose": "marketing", "channel": "email", "granted": True}),
            ev(user="u2", event="Consent Updated", day=2, properties={"purpose": "profiling", "granted": "no"}),
            ev("page", user="u3", day=3, context={"consent": {"Analytics": False, "care": "yes"}}),
            ev(user="u4", event="Order Completed", day=4, properties={"total": 5}),
        ])  # fmt: skip
        with connect(store, engine, session=session) as eng:
            assert read_consent(store, eng=eng) == 4
        return store.con.execute(
            "select user_id, purpose, granted, legal_basis, source, seq, decided_at, recorded_at"
            " from consent_events order by seq, purpose"
        ).fetchall()


def test_consent_from_events_is_the_same_on_spark(spark_session: Any) -> None:
    duck = _ledger("duckdb")
    assert [r[1] for r in duck] == ["marketing_email", "profiling", "analytics", "care"]
    assert _ledger("spark", spark_session) == duck
