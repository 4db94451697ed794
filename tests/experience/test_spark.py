"""The experience stage on Spark: the tables it builds with Ibis on the engine are, row for
row, the ones it builds on DuckDB (same small world, same stage)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from empatia.experience import activity_fit
from empatia.experience.config import ExperienceConfig
from empatia.experience.stage import STAGE
from empatia.pipeline import RunContext
from empatia.store.engine import connect
from empatia.workspace import Workspace
from tests.experience.conftest import build_world
from tests.experience.world import NOW, World

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1"),
]

#: The tables the stage builds on the engine, and their columns in a comparable form.
QUERIES = {
    "experience_case_events": "select seq, case_id from experience_case_events order by seq",
    "experience_trajectories": (
        "select person_id, texts, first_at, last_at, round(average, 9), round(recent, 9),"
        " round(trend_per_30d, 9), lowest, lowest_at, lowest_seq, latest, latest_emotion,"
        " direction from experience_trajectories order by person_id"
    ),
    "experience_activity": (
        "select person_id, last_order_at, last_active_at, first_active_at, active_days,"
        " threat_at, threat_cue, threat_seq, hurt_at, hurt_seq, kind_at, p_alive, as_of, driver,"
        " round(p_active, 9), drivers from experience_activity order by person_id"
    ),
    "survey_responses": (
        "select seq, person_id, survey, score, touchpoint, channel, market, language,"
        " journey_stage, answered_at, duration_seconds, has_comment, comment_score, excluded,"  # message_id: random per world
        " exclude_reason from survey_responses order by seq"
    ),
    "experience_journeys": (
        "select person_id, case_id, topic, first_at, last_at, last_seq, contacts, steps, channels,"
        " channel_switches, channel_path, transfers, wait_seconds, live_wait_seconds,"
        " repeat_contact, resolved, resolution, internal_success, round(self_rating, 9),"
        " round(resolution_days, 9), round(unresolved_age_days, 9), texts, min_score, last_score,"
        " last_text_seq, verdict_score, evidence_seqs, round(effort_score, 9), succeeded_but_hurt,"
        " hurt_reasons, bought_after, left_after, public_after, as_of"
        " from experience_journeys order by case_id"
    ),
    "experience_gap": (
        "select touchpoint, company_n, round(company_view, 9), round(self_rating, 9), customer_n,"
        " round(customer_view, 9), round(gap, 9) from experience_gap order by touchpoint"
    ),
}


def _run(path: Path, engine: str, session: Any = None) -> dict[str, Any]:
    ws = Workspace(db=path)
    try:
        build_world(World(ws.store))
        # the traveller's last words threaten (a cue that is not a threat first); a profile
        ws.store.con.execute(
            "update text_analysis set anger = 0.9, escalation = ? where score = -0.9",
            ['[{"category":"effort","cue":"waiting"},{"category":"escalation","cue":"public"}]'],
        )
        ws.store.con.execute(
            "insert into profiles (person_id, p_alive, as_of) values ('traveller', 0.8, ?)", [NOW]
        )
        figures = STAGE.run(RunContext(ws, engine=engine, spark_session=session))
        out: dict[str, Any] = {"figures": figures}
        for table, sql in QUERIES.items():
            out[table] = ws.store.con.execute(sql).fetchall()
        return out
    finally:
        ws.close()


def test_spark_builds_the_same_rows_as_duckdb(spark_session: Any, tmp_path: Path) -> None:
    duck = _run(tmp_path / "duck.duckdb", "duckdb")
    spark = _run(tmp_path / "spark.duckdb", "spark", spark_session)
    for table in QUERIES:
        assert spark[table] == duck[table], table
        assert len(duck[table]) > 0, table
    # the figures: the same numbers; Spark rebuilds in full (it cannot replace rows in place)
    assert spark["figures"].pop("mode") == "full"
    assert duck["figures"].pop("mode") == "full (first run)"
    assert spark["figures"] == duck["figures"]
    trends = {r[-1] for r in duck["experience_trajectories"]}
    assert "worsening" in trends or "improving" in trends
    threat = [r for r in duck["experience_activity"] if r[6]]  # found by the Python step
    assert [(r[0], r[6]) for r in threat] == [("traveller", "public")]
    assert threat[0][-1] is not None and "threat" in threat[0][-1]  # a driver of p_active
    assert any(r[9] for r in duck["experience_activity"])  # hurt words
    reasons = {r[-1] for r in duck["survey_responses"]}
    assert {"speed, duplicate_text", "straight_lining"} <= reasons and None in reasons
    assert "overall" in {r[0] for r in duck["experience_gap"]}
    hurt = [r for r in duck["experience_journeys"] if r[28]]  # succeeded, but it hurt
    assert hurt and all(r[29] for r in hurt)  # and why, in words
    assert duck["figures"]["perception_gap"] is not None


#: "Still active" with its model fitted on the store's past (a world large enough to fit).
FITTED = {
    "experience_activity_model": (
        "select name, round(value, 9), prior, people, cutoff, fitted_at, settings"
        " from experience_activity_model order by name"
    ),
    "experience_activity": QUERIES["experience_activity"],
}


def _run_fitted(path: Path, engine: str, session: Any = None) -> dict[str, Any]:
    from tests.experience.test_activity_fit import shop_world

    with Workspace(db=path) as ws:
        shop_world(ws, threats_mean_it=True, run=False)
        figures = STAGE.run(RunContext(ws, engine=engine, spark_session=session))
        out: dict[str, Any] = {"figures": figures}
        for table, sql in FITTED.items():
            out[table] = ws.store.con.execute(sql).fetchall()
        # the fit again, alone: its three fits need every buyer at once, and run where the
        # engine runs — on Spark only their parameters reach the driver
        with connect(ws.store, engine, session=session) as eng:
            eng.meter = Counter()
            out["refit"] = activity_fit.fit(eng, ExperienceConfig(), texts=True)
            out["refit collected"] = eng.meter["collected"] if engine == "spark" else None
        return out


def test_spark_fits_the_same_model_of_still_active(spark_session: Any, tmp_path: Path) -> None:
    duck = _run_fitted(tmp_path / "duck.duckdb", "duckdb")
    spark = _run_fitted(tmp_path / "spark.duckdb", "spark", spark_session)
    assert duck["figures"]["still_active_weights"] == "fitted"
    assert len(duck["experience_activity_model"]) == 14
    for table in FITTED:
        assert spark[table] == duck[table], table
    duck["figures"].pop("mode"), spark["figures"].pop("mode")
    assert spark["figures"] == duck["figures"]
    assert spark["refit"] == duck["refit"] and duck["refit"] is not None
    buyers = duck["refit"].people["scale"]
    assert buyers > 150 and spark["refit collected"] <= 10  # the counts and three fits' rows
