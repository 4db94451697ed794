"""The decide stage on Spark: scoring and choosing run in Spark's Python workers
(``mapInArrow``), with the fitted model shipped to them, and every row of ``decide_inputs``
and ``decisions`` is the one DuckDB makes in process — after training and after a refresh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from empatia.decide import signals
from empatia.decide.catalogue import load_catalogue
from empatia.decide.engine import WRITES, _now, run
from empatia.decide.refresh import refresh
from empatia.pipeline import RunContext, run_pipeline
from empatia.store import Store
from empatia.store.engine import connect
from empatia.store.scoped import stage_transaction
from empatia.workspace import Workspace
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


def _stage(tmp_path: Path, engine: str, session: Any = None) -> dict[str, Any]:
    """The stage itself, through the pipeline: it trains, then refreshes the changed people."""
    out: dict[str, Any] = {}
    with Workspace(db=tmp_path / f"{engine}.duckdb") as ws:
        build(ws.store, n=8)
        for run_ in ("first", "second"):
            if run_ == "second":  # u6 buys again: a refresh of just them
                add_events(ws.store, [order("u6", 90.5, [2])])
                ws.store.con.execute("insert into event_persons select max(seq), 'p_u6' from events")
            export = tmp_path / f"{engine}-{run_}.csv"
            ctx = RunContext(ws, engine=engine, spark_session=session,
                             settings={"decide": {"export": str(export)}})  # fmt: skip
            (result,) = run_pipeline(ctx, only=["decide"])
            out[run_] = {k: v for k, v in result.figures.items() if k not in _TIMES}
            out[f"{run_} export"] = export.read_text()
        out["rows"] = _rows(ws.store)
    return out


def test_the_stage_runs_on_spark_in_its_transaction(spark_session: Any, tmp_path: Path) -> None:
    spark, duck = _stage(tmp_path, "spark", spark_session), _stage(tmp_path, "duckdb")
    assert spark == duck
    assert duck["first"]["retrained"] == "no model yet" and duck["first"]["decisions"] == 9
    assert duck["second"]["retrained"] == "no" and duck["second"]["decisions"] >= 1
    assert len(duck["rows"]["decisions"]) == 9 and duck["second export"].count("\n") == 10
