""" "Still active" fitted on the store's own past (#15): the weights come from what happened in
this store after people threatened, not from a hand-set table, and still move the chance the
way a user expects."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from empatia.workspace import Workspace
from tests.experience.conftest import run_stages
from tests.experience.test_activity import LEAVE
from tests.experience.world import NOW, World


def shop_world(ws: Workspace, threats_mean_it: bool, seed: int = 7, run: bool = True) -> None:
    """240 people visiting and buying on their own rhythm for 600 days; a fifth stop without a
    word, a quarter threaten to leave at some point. ``threats_mean_it``: those who threaten
    stop there; otherwise they carry on as before. Two twins at the end: the same rhythm, one threatened 20 days ago.
    ``run``: then run the experience stage (on DuckDB)."""
    rng = np.random.default_rng(seed)
    w = World(ws.store)
    threats = []
    for i in range(240):
        p, gap = f"c{i}", float(rng.uniform(15, 50))
        t, stop = NOW - timedelta(days=600 - rng.uniform(0, 30)), None
        quits = NOW - timedelta(days=float(rng.uniform(0, 560))) if rng.random() < 0.2 else NOW
        if rng.random() < 0.25:
            stop = NOW - timedelta(days=float(rng.uniform(20, 560)))
        k = 0
        while t < quits:
            if stop is not None and t > stop:
                threats.append(w.say(p, stop, "I am leaving you for good.", -0.8, "anger"))
                if threats_mean_it:
                    break
                stop = None
            w.event(p, t, "Order Completed" if k % 3 == 0 else "Product Viewed",
                    order_id=f"{p}-{k}", products=[{"product_id": "A", "price": 10}])  # fmt: skip
            t, k = t + timedelta(days=float(rng.exponential(gap))), k + 1
    for p in ("twin", "twin_threat"):
        for k in range(20):
            w.event(p, NOW - timedelta(days=25 + 20 * k), "Order Completed", order_id=f"{p}-{k}",
                    products=[{"product_id": "A", "price": 10}])  # fmt: skip
    threats.append(
        w.say("twin_threat", NOW - timedelta(days=20), "I am leaving you.", -0.8, "anger")
    )
    w.event("twin", NOW, "Product Viewed", product_id="A")
    w.event("twin_threat", NOW, "Product Viewed", product_id="A")
    w.finish()
    con = ws.store.con
    con.execute("update text_analysis set anger = 0.9, escalation = ? where message_id in"
                " (select unnest(?))", [LEAVE, threats])  # fmt: skip
    con.execute("insert into profiles (person_id, first_name, p_alive, as_of, first_seen,"
                " last_seen) select distinct person_id, person_id, 0.8, ?, ?, ? from event_persons",
                [NOW, NOW - timedelta(days=600), NOW])  # fmt: skip
    if run:
        run_stages(ws, "experience")


def _read(ws: Workspace) -> tuple[dict[str, tuple], dict[str, tuple]]:
    con = ws.store.con
    model = {r[0]: r[1:] for r in con.execute(
        "select name, value, prior, people, cutoff, fitted_at from experience_activity_model"
    ).fetchall()}  # fmt: skip
    act = {r[0]: r[1:] for r in con.execute(
        "select person_id, p_active, drivers, driver from experience_activity"
        " where person_id like 'twin%'"
    ).fetchall()}  # fmt: skip
    return model, act


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[dict, dict]]:
    out = {}
    for meant in (True, False):
        with Workspace(db=tmp_path_factory.mktemp("fit") / "f.duckdb") as ws:
            shop_world(ws, threats_mean_it=meant)
            out[meant] = _read(ws)
    return out


def test_the_weights_are_fitted_from_the_store_and_kept_in_a_table(fitted):
    model, _ = fitted[True]
    assert {"threat", "hurt_case", "quiet", "scale", "base_r", "base_beta"} <= set(model)
    value, prior, people, cutoff, fitted_at = model["threat"]
    assert prior == 3.0 and people > 5  # the threats in the store's past were seen
    assert fitted_at - cutoff == timedelta(days=180)


def test_threats_that_were_followed_by_leaving_weigh_more_than_empty_ones(fitted):
    meant, empty = fitted[True][0]["threat"][0], fitted[False][0]["threat"][0]
    assert meant > empty + 0.5


def test_a_threat_still_lowers_still_active_against_an_identical_person(fitted):
    _, act = fitted[True]
    assert act["twin_threat"][0] < act["twin"][0] - 0.2
    assert act["twin_threat"][1].split(",")[0] == "threat"
    assert act["twin_threat"][2] == "threatened to leave 20 days ago"


def test_too_small_a_store_keeps_the_hand_set_weights(tmp_path):
    from tests.experience.test_activity import activity_world

    with Workspace(db=tmp_path / "s.duckdb") as ws:
        activity_world(ws)
        rows = ws.store.con.execute("select count(*) from experience_activity_model").fetchone()
    assert rows == (0,)
