"""The chance of being "still active", moved by what people said and went through (#15):
a churn threat with nothing bought since lowers it; a complaint followed by a purchase does
not; an incremental run ends where ``--full`` does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from empatia.workspace import Workspace
from tests.experience.conftest import run_stages
from tests.experience.world import NOW, World
from tests.store.incremental_world import Outcome, differences

P_ALIVE = 0.8  # the purchase model's chance, the same for everyone here
LEAVE = '[{"category":"escalation","cue":"leave"}]'


def _orders(w: World, person: str, last_days_ago: int) -> None:
    for k in range(6):  # one order a month, the same rhythm for everyone
        w.event(person, NOW - timedelta(days=last_days_ago + 30 * k), "Order Completed",
                order_id=f"{person}-{k}", products=[{"product_id": "A", "price": 10}])  # fmt: skip


def activity_world(ws: Workspace) -> None:
    """``steady``: orders only; ``threat``: the same orders, then threatened to leave 20 days
    ago; ``made_good``: complained angrily 50 days ago, then bought again (40 days ago)."""
    w = World(ws.store)
    for p in ("steady", "threat", "made_good"):
        _orders(w, p, 40)
    threat = w.say("threat", NOW - timedelta(days=20),
                   "Lost again. I am leaving you for good.", -0.8, "anger")  # fmt: skip
    grumble = w.say("made_good", NOW - timedelta(days=50),
                    "Lost again, I will cancel my account!", -0.8, "anger")  # fmt: skip
    for p in ("steady", "threat", "made_good"):  # all still look around (no one is quiet)
        w.event(p, NOW, "Product Viewed", product_id="A")
    w.finish()
    con = ws.store.con
    con.execute("update text_analysis set anger = 0.9, escalation = ? where message_id in (?, ?)",
                [LEAVE, threat, grumble])  # fmt: skip
    for p in ("steady", "threat", "made_good"):  # profiles stood in: the same rhythm
        con.execute("insert into profiles (person_id, first_name, p_alive, as_of, first_seen,"
                    " last_seen) values (?, ?, ?, ?, ?, ?)",
                    [p, p.title(), P_ALIVE, NOW, NOW - timedelta(days=200), NOW])  # fmt: skip
    run_stages(ws, "experience")


@pytest.fixture(scope="module")
def act(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    with Workspace(db=tmp_path_factory.mktemp("act") / "a.duckdb") as ws:
        activity_world(ws)
        res = ws.store.con.execute(
            "select person_id, p_alive, p_active, drivers, driver from experience_activity"
        )
        names = [d[0] for d in res.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in res.fetchall()}


def test_a_recent_churn_threat_with_nothing_bought_since_lowers_still_active(act):
    steady, threat = act["steady"], act["threat"]
    assert steady["p_alive"] == threat["p_alive"] == pytest.approx(P_ALIVE)
    assert threat["p_active"] < steady["p_active"] - 0.3
    assert threat["drivers"].split(",")[0] == "threat"
    assert threat["driver"] == "threatened to leave 20 days ago"


def test_who_bought_after_the_complaint_is_not_lowered(act):
    made_good, steady = act["made_good"], act["steady"]
    assert made_good["p_active"] == pytest.approx(steady["p_active"])
    assert "threat" not in (made_good["drivers"] or "")
    assert "hurt_words" not in (made_good["drivers"] or "")


def test_no_purchase_model_no_still_active(tmp_path):
    with Workspace(db=tmp_path / "n.duckdb") as ws:
        w = World(ws.store)
        w.say("browser", NOW - timedelta(days=3), "I will leave.", -0.6, "anger")
        w.finish()
        run_stages(ws, "experience")
        row = ws.store.con.execute(
            "select p_alive, p_active from experience_activity where person_id = 'browser'"
        ).fetchone()
    assert row == (None, None)  # never bought: nothing to move (the page falls back)


def test_incremental_equals_full(incremental_outcome: Outcome, erasure_outcome: Outcome) -> None:
    full = incremental_outcome.full["experience_activity"]
    assert any(r[10] is not None for r in full)  # p_active: the profiles ran before
    assert differences(incremental_outcome, "experience_activity") == []
    assert differences(erasure_outcome, "experience_activity") == []
