"""The decide stage on Spark: scoring and choosing run in Spark's Python workers
(``mapInArrow``), with the fitted model shipped to them, and every row of ``decide_inputs``
and ``decisions`` is the one DuckDB makes in process — after training and after a refresh."""

from __future__ import annotations

import os
from typing import Any

import pytest

from empatia.decide import signals
from empatia.decide.catalogue import load_catalogue
from empatia.decide.engine import WRITES, _now, run
from empatia.decide.refresh import refresh
from empatia.store import Store
from empatia.store.engine import connect
from empatia.store.scoped import stage_transaction
from tests.decide.world import build, order
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
        # orders in other currencies: PLN at the rate of the day or the latest before it,
        # USD without a rate (its quantity alone)
        s.con.execute("insert into exchange_rates values ('EUR', 'PLN', date '2000-01-01', 4.0),"
                      " ('EUR', 'PLN', date '2100-01-01', 5.0)")
        extra = [order("u1", 50.5, [3]), order("u2", 60.5, [5, 3]), order("u3", 70.5, [3])]
        for e, cur in zip(extra, ("PLN", "PLN", "USD"), strict=True):
            e["properties"]["currency"] = cur
        add_events(s, extra)
        s.con.execute("insert into event_persons select seq, 'p_' || user_id from events"
                      " where seq > (select max(seq) from event_persons)")
        with stage_transaction(s, "decide", WRITES) as db:
            eng = connect(db, engine, session=session)  # type: ignore[arg-type]
            occ = signals.occasions(eng, _now(db))
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
            "occasions": [tuple(r) for r in occ.astype(object).where(occ.notna(), None).values],
            "figures": {k: v for k, v in figures.items() if k not in _TIMES},
            "refreshed": {k: v for k, v in refreshed.items() if k not in _TIMES},
            "trained": trained,
            "after": _rows(s),
        }


def test_decide_runs_on_spark_and_makes_the_same_decisions(spark_session: Any) -> None:
    spark, duck = _decide("spark", spark_session), _decide("duckdb")
    assert spark == duck
    qty = {(r[0], r[1]): r[3] for r in duck["occasions"]}
    assert len(qty) > 12 and qty[("p_u1", "sku-mug")] == pytest.approx(8.0 / 4.0)  # PLN
    assert qty[("p_u3", "sku-mug")] == 1.0  # USD: no rate
    assert duck["figures"]["decisions"] == 13 and duck["figures"]["cold_start"] == 1
    decisions = {r[0]: r for r in duck["trained"]["decisions"]}
    assert decisions["p_u2"][1] == "service_callback" and decisions["p_u4"][1] == "human_care"
    assert sum(1 for r in duck["trained"]["decisions"] if r[2] in ("offer", "coupon")) > 0
    assert duck["refreshed"]["decisions"] == 3
    inputs = {r[0]: r for r in duck["after"]["inputs"]}
    assert inputs["p_late"][3] and not inputs["p_u6"][3]  # the newcomer gets the cold start
    assert duck["after"]["decisions"] != duck["trained"]["decisions"]
