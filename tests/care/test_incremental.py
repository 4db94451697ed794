"""An incremental ``care`` run re-reads the influence traits of the changed people only, and
its list ends where ``--full`` puts it (issue #14, #7)."""

from __future__ import annotations

from tests.store.incremental_world import Outcome, differences


def test_new_events_refresh_only_the_changed_peoples_traits(incremental_outcome: Outcome) -> None:
    fig = incremental_outcome.figures["care"]
    assert fig["traits"] == "incremental"
    assert 3 <= fig["traits_recomputed"] <= 6 < incremental_outcome.persons
    for table in ("care_traits", "care_list"):
        assert differences(incremental_outcome, table) == [], table


def test_an_erasure_refreshes_everyone(erasure_outcome: Outcome) -> None:
    assert erasure_outcome.figures["care"]["traits"] == "full (erasure since)"
    for table in ("care_traits", "care_list"):
        assert differences(erasure_outcome, table) == [], table
