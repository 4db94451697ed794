"""The decide stage on Spark: scoring and choosing run in Spark's Python workers
(``mapInArrow``), with the fitted model shipped to them, and every row of ``decide_inputs``
and ``decisions`` is the one DuckDB makes in process — after training and after a refresh."""

from __future__ import annotations

import os
from typing import Any

import pytest

from empatia.decide.catalogue import load_catalogue
from empatia.decide.engine import WRITES, run
from empatia.decide.refresh import refresh
from empatia.store import Store
from empatia.store.engine import connect
from empatia.store.scoped import stage_transaction
from tests.decide.world import build
from tests.identity.world import add_events, ev

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1"),
]

_TIMES = ("train_s", "decide_s")


def _rows(s: Store) -> dict[str, Any]:
    return {
        "inputs": s.con.execute(
            "select person_id, candidates::varchar, state::varchar, cold_start, computed_at, seq"
            " from decide_inputs order by person_id"
        ).fetchall(),
        "decisions": s.con.execute(
            "select person_id, action, kind, channel, items::varchar, reason, scores::varchar,"
            " policy::varchar, fallback, cost, expires_at, decided_at"
            " from decisions order by person_id"
        ).fetchall(),
    }


def _decide(engine: str, session: Any = None) -> dict[str, Any]:
    catalogue = load_catalogue()
    with Store(":memory:") as s:
        build(s, n=12)
        with stage_transaction(s, "decide", WRITES) as db:
            eng = connect(db, engine, session=session)  # type: ignore[arg-type]
            figures = run(db, catalogue=catalogue, eng=eng)
            eng.close()
        trained = _rows(s)
        # u5 withdraws personalisation; a newcomer arrives: a refresh of just them
        add_events(s, [ev(event="Consent Updated", user="u5", day=91,
                          properties={"purpose": "personalisation", "granted": False})])
        s.con.execute("insert into event_persons select max(seq), 'p_u5' from events")
        with stage_transaction(s, "decide", WRITES) as db:
            eng = connect(db, engine, session=session)  # type: ignore[arg-type]
            refreshed = refresh(db, ["p_u5", "p_u6", "p_late"], catalogue, eng=eng)
            eng.close()
        return {
            "figures": {k: v for k, v in figures.items() if k not in _TIMES},
            "refreshed": {k: v for k, v in refreshed.items() if k not in _TIMES},
            "trained": trained,
            "after": _rows(s),
        }


def test_decide_runs_on_spark_and_makes_the_same_decisions(spark_session: Any) -> None:
    spark, duck = _decide("spark", spark_session), _decide("duckdb")
    assert spark == duck
    assert duck["figures"]["decisions"] == 13 and duck["figures"]["cold_start"] == 1
    decisions = {r[0]: r for r in duck["trained"]["decisions"]}
    assert decisions["p_u2"][1] == "service_callback" and decisions["p_u4"][1] == "human_care"
    assert sum(1 for r in duck["trained"]["decisions"] if r[2] in ("offer", "coupon")) > 0
    assert duck["refreshed"]["decisions"] == 3
    inputs = {r[0]: r for r in duck["after"]["inputs"]}
    assert inputs["p_late"][3] and not inputs["p_u6"][3]  # the newcomer gets the cold start
    assert duck["after"]["decisions"] != duck["trained"]["decisions"]
