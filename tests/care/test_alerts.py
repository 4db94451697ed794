"""Alerts: once per change, again when worse, acknowledge and resolve with a note."""

from __future__ import annotations

from empatia import care
from empatia.care.config import CareWeights
from empatia.store import Store
from tests.care.world import World


def _alerts(store: Store, person: str) -> list[dict[str, object]]:
    return care.alerts(store.con, person_id=person)


def test_one_alert_per_change_and_reruns_create_none(cstore: Store, world: World,
                                                     weights: CareWeights) -> None:  # fmt: skip
    first = care.run_care(cstore.con, weights)
    again = care.run_care(cstore.con, weights)
    assert first["entered"] >= 1 and again["entered"] == again["worsened"] == 0
    assert len(_alerts(cstore, "musician")) == 1
    assert care.care_list(cstore.con)[0]["alert_id"] == _alerts(cstore, "musician")[0]["alert_id"]


def test_a_new_threat_is_a_worsening(cstore: Store, world: World, weights: CareWeights) -> None:
    care.run_care(cstore.con, weights)
    world.say("musician", 0.5, "I am calling the newspaper tomorrow.", -0.95, "anger", 0.95,
              threats=("public",), case_id="C1")  # fmt: skip
    world.finish()
    figures = care.run_care(cstore.con, weights)
    assert figures["worsened"] == 1
    kinds = [(a["kind"], a["status"]) for a in _alerts(cstore, "musician")]
    assert kinds == [("worsened", "open"), ("entered", "superseded")]


def test_acknowledge_keeps_resolve_removes_until_news(cstore: Store, world: World,
                                                      weights: CareWeights) -> None:  # fmt: skip
    care.run_care(cstore.con, weights)
    care.acknowledge(cstore.con, "musician", "called him, replacement on its way", "agent-7")
    care.run_care(cstore.con, weights)
    top = care.care_list(cstore.con)[0]
    assert (top["person_id"], top["status"]) == ("musician", "acknowledged")

    care.resolve(cstore.con, top["alert_id"], "new guitar delivered, he is happy", "agent-7")
    assert "musician" not in {r["person_id"] for r in care.care_list(cstore.con)}
    care.run_care(cstore.con, weights)  # nothing new: stays off the list, no alert
    assert "musician" not in {r["person_id"] for r in care.care_list(cstore.con)}
    assert len(_alerts(cstore, "musician")) == 1

    world.say("musician", 0.2, "The new one is broken too. Unbelievable.", -0.9, "anger", 0.9)
    world.finish()
    figures = care.run_care(cstore.con, weights)
    assert figures["entered"] == 1
    assert care.care_list(cstore.con)[0]["person_id"] == "musician"
    h = care.history(cstore.con, "musician")
    assert [x["action"] for x in h] == ["entered", "acknowledged", "resolved", "entered"]
    assert h[2]["note"] == "new guitar delivered, he is happy" and h[2]["actor"] == "agent-7"


def test_actions_on_unknown_or_resolved_alerts_fail_clearly(cstore: Store, world: World,
                                                            weights: CareWeights) -> None:  # fmt: skip
    import pytest

    from empatia.care.exceptions import AlertNotFoundError, AlertStateError

    care.run_care(cstore.con, weights)
    with pytest.raises(AlertNotFoundError, match="no care alert"):
        care.resolve(cstore.con, "al_nope")
    care.resolve(cstore.con, "musician")
    with pytest.raises(AlertStateError, match="already resolved"):
        care.resolve(cstore.con, "musician")


def test_the_stage_runs_in_the_pipeline(tmp_path: object, receiver: object) -> None:
    from pathlib import Path

    from empatia.pipeline import RunContext, ordered_stages, run_pipeline
    from empatia.workspace import Workspace
    from tests.care.world import build

    ws = Workspace(db=Path(str(tmp_path)) / "stage.duckdb")
    build(ws.store)
    care.add_webhook(ws.store.con, receiver.url)  # type: ignore[attr-defined]
    names = [s.name for s in ordered_stages()]
    assert "care" in names and all(names.index(d) < names.index("care")
                                   for d in ("profiles", "emotion") if d in names)  # fmt: skip
    [result] = run_pipeline(RunContext(ws, settings={"care": {"delivery": {"backoff_seconds": 0}}}),
                            ["care"])  # fmt: skip
    assert (
        result.figures["listed"] >= 1 and result.figures["delivered"] == result.figures["entered"]
    )
    assert len(receiver.delivered) == result.figures["entered"]  # type: ignore[attr-defined]
    ws.close()


def test_a_much_higher_score_is_a_worsening(
    cstore: Store, world: World, weights: CareWeights
) -> None:
    from empatia.care.config import load_weights

    care.run_care(cstore.con, weights)
    fan = [a for a in care.alerts(cstore.con, person_id="fan")]
    assert fan and fan[0]["kind"] == "entered"
    world.case("fan", "C6", "app", [2, 1.5, 1, 0.5])  # a new, open, busy journey
    world.finish()
    figures = care.run_care(cstore.con, load_weights(overrides={"alerts": {"worsen_ratio": 1.1}}))
    assert figures["worsened"] >= 1
    latest = care.alerts(cstore.con, person_id="fan")[0]
    assert latest["kind"] == "worsened" and latest["previous_score"] == fan[0]["score"]
