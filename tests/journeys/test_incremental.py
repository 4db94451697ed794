"""An incremental ``journeys`` run rebuilds only the changed people's steps and sessions and
the journeys they touch, and ends where ``--full`` does (issue #14, #7)."""

from __future__ import annotations

from tests.store.incremental_world import Outcome, differences

TABLES = ("journey_steps", "journey_sessions", "journeys")


def test_new_events_rebuild_only_the_changed_people(incremental_outcome: Outcome) -> None:
    fig = incremental_outcome.figures["journeys"]
    assert fig["mode"] == "incremental"
    assert 3 <= fig["recomputed"] <= 6 < incremental_outcome.persons
    assert 0 < fig["journeys_rebuilt"] < fig["journeys"]
    for table in TABLES:
        assert differences(incremental_outcome, table) == [], table


def test_an_erasure_rebuilds_everything(erasure_outcome: Outcome) -> None:
    assert erasure_outcome.figures["journeys"]["mode"] == "full (erasure since)"
    for table in TABLES:
        assert differences(erasure_outcome, table) == [], table
