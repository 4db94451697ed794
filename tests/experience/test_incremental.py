"""An incremental ``experience`` run rebuilds only the cases and trajectories of the changed
people, and ends where ``--full`` does (issue #14, #7)."""

from __future__ import annotations

from tests.store.incremental_world import Outcome, differences

TABLES = ("experience_journeys", "experience_trajectories", "survey_responses", "experience_gap")


def test_new_events_rebuild_only_the_changed_people(incremental_outcome: Outcome) -> None:
    fig = incremental_outcome.figures["experience"]
    assert fig["mode"] == "incremental"
    assert 3 <= fig["recomputed"] <= 6 < incremental_outcome.persons
    assert 0 < fig["cases_rebuilt"] < fig["service_journeys"]
    for table in TABLES:
        assert differences(incremental_outcome, table) == [], table


def test_an_erasure_rebuilds_everything(erasure_outcome: Outcome) -> None:
    assert erasure_outcome.figures["experience"]["mode"] == "full (erasure since)"
    for table in TABLES:
        assert differences(erasure_outcome, table) == [], table
