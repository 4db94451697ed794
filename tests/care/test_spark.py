"""The care stage on Spark: the traits, the inputs and the consent check are Ibis on Spark,
the alerts and the list are written back to the store, and every row is the one DuckDB makes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from empatia.care.build import run_care
from empatia.care.config import load_weights
from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy.consent import record
from empatia.store import Store
from empatia.store.engine import connect
from empatia.workspace import Workspace
from tests.care.world import build

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1"),
]

_LIST = ("rank, person_id, round(influence, 9), round(risk, 9), round(value, 9), round(score, 9),"
         " explanation, evidence::varchar, status, last_seq, computed_at")  # fmt: skip
_ALERTS = ("person_id, kind, idempotency_key, round(score, 9), round(previous_score, 9),"
           " explanation, evidence::varchar, last_seq, status")  # fmt: skip


def _care(engine: str, session: Any = None) -> dict[str, Any]:
    w = load_weights(overrides={"influence": {"floor": 0.2}, "alerts": {"min_score": 0.01}})
    with Store(":memory:") as s:
        world = build(s)
        s.con.execute("insert into profile_traits (person_id, trait, value)"
                      " values ('fan', 'tier', 'gold'), ('fan', 'followers', '15000')")  # fmt: skip
        record(s, "nobody", "care", False, source="api")  # objected: privacy's ledger
        for granted, days_ago in ((True, 2), (False, 1)):  # the celebrity's latest word: no
            world.event("celebrity", days_ago, event="Consent Updated",
                        properties={"purpose": "care", "granted": granted})  # fmt: skip
        world.finish()
        out: dict[str, Any] = {}
        for run in ("first", "second"):
            if run == "second":  # a new threat: the musician's case worsens
                world.say("musician", 0.5, "I am calling my lawyer.", -0.95, "anger", 0.95,
                          threats=("legal",))  # fmt: skip
                world.finish()
            # a new engine each run: the world changed the store behind Spark's copies
            eng = None if engine == "duckdb" else connect(s, engine, session=session)
            figures = run_care(s.con, w, deliver=False, eng=eng)
            if eng is not None:
                eng.close()
            out[run] = {k: v for k, v in figures.items() if not k.startswith("traits")}
            out[f"{run} list"] = s.con.execute(f"select {_LIST} from care_list order by rank").fetchall()
        out["traits"] = s.con.execute("select * from care_traits order by person_id").fetchall()
        out["alerts"] = s.con.execute(
            f"select {_ALERTS} from care_alerts order by person_id, created_at, kind"
        ).fetchall()
        return out


def test_care_runs_on_spark_and_makes_the_same_rows(spark_session: Any) -> None:
    spark, duck = _care("spark", spark_session), _care("duckdb")
    assert spark == duck
    assert duck["first"]["excluded_by_consent"] == 2
    assert [r[1] for r in duck["first list"]] == ["musician", "fan"]
    assert duck["second"]["worsened"] == 1 and duck["second"]["entered"] == 0
    assert [r[8] for r in duck["alerts"] if r[0] == "musician"] == ["superseded", "open"]
    assert {r[0] for r in duck["traits"]} >= {"musician", "celebrity", "fan", "grudge"}
    assert "15k followers" in duck["first list"][1][6]  # profiles' traits win over events'


def _stage(tmp_path: Path, engine: str, session: Any = None) -> dict[str, Any]:
    """The stage itself, through the pipeline (its one transaction, its declared tables)."""
    out: dict[str, Any] = {}
    with Workspace(db=tmp_path / f"{engine}.duckdb") as ws:
        world = build(ws.store)
        for run in ("first", "second"):
            if run == "second":  # a new threat: the musician's case worsens, superseded in place
                world.say("musician", 0.5, "I am calling my lawyer.", -0.95, "anger", 0.95,
                          threats=("legal",))  # fmt: skip
                world.finish()
            ctx = RunContext(ws, engine=engine, spark_session=session,
                             settings={"care": {"deliver": False}})  # fmt: skip
            (result,) = run_pipeline(ctx, only=["care"])
            out[run] = {k: v for k, v in result.figures.items()
                        if not k.startswith(("traits", "driver_"))}  # driver_*: Spark's own
        con = ws.store.con
        out["list"] = con.execute(f"select {_LIST} from care_list order by rank").fetchall()
        out["alerts"] = con.execute(
            f"select {_ALERTS} from care_alerts order by person_id, created_at, kind"
        ).fetchall()
    return out


def test_the_stage_runs_on_spark_in_its_transaction(spark_session: Any, tmp_path: Path) -> None:
    spark, duck = _stage(tmp_path, "spark", spark_session), _stage(tmp_path, "duckdb")
    assert spark == duck
    assert duck["first"]["entered"] == len(duck["list"]) >= 2
    assert duck["second"]["worsened"] == 1
    assert [r[8] for r in duck["alerts"] if r[0] == "musician"] == ["superseded", "open"]


def test_duckdb_after_spark_rebuilds_the_traits_in_full_once(
    spark_session: Any, tmp_path: Path
) -> None:
    """Spark rebuilds whole tables and keeps no marks of whom it saw (the driver would digest
    every person's events for them); DuckDB, next on the same file, cannot trust marks older
    than Spark's rows, so it rebuilds in full first, then goes on incrementally."""
    settings = {"care": {"deliver": False}}
    with Workspace(db=tmp_path / "w.duckdb") as ws:
        world = build(ws.store)
        for engine, session in (("duckdb", None), ("spark", spark_session)):
            run_pipeline(RunContext(ws, engine=engine, spark_session=session, full=True,
                                    settings=dict(settings)), only=["care"])  # fmt: skip
        marks = "select count(*) from person_marks where stage = 'care'"
        assert ws.store.con.execute(marks).fetchone() == (0,)
        traits = []
        for text in ("I am calling my lawyer.", "My lawyer will write to you."):
            world.say("musician", 0.5, text, -0.95, "anger", 0.95, threats=("legal",))
            world.finish()
            (r,) = run_pipeline(RunContext(ws, settings=dict(settings)), only=["care"])
            traits.append(r.figures["traits"])
        assert traits == ["full (first run)", "incremental"]
        assert ws.store.con.execute(marks).fetchone()[0] > 0
