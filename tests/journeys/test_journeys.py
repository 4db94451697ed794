"""Journeys as a CX analyst sees them: exact funnels, next steps, the map with its emotion curve."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empatia import journeys
from empatia.journeys.exceptions import FunnelError
from empatia.workspace import Workspace
from tests.experience.conftest import run_stages
from tests.experience.world import NOW, World

STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


@pytest.fixture(scope="module")
def jws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """20 shoppers: 20 view, 12 add, 7 check out, 5 buy within a week (+1 buys after 10 days)."""
    ws = Workspace(db=tmp_path_factory.mktemp("j") / "j.duckdb")
    w = World(ws.store)
    t0 = NOW - timedelta(days=40)
    for i in range(20):
        p, t = f"s{i:02d}", t0 + timedelta(hours=i)
        ch = "app" if i % 2 else "web"
        w.event(p, t - timedelta(minutes=2), type="page", name="Home", context_channel=ch)
        w.event(p, t, "Product Viewed", context_channel=ch, product_id="X")
        if i < 12:
            w.event(p, t + timedelta(minutes=1), "Product Added", context_channel=ch)
        if i < 7:
            w.event(
                p,
                t + timedelta(minutes=2),
                "Checkout Started",
                context_channel=ch,
                order_id=f"O{i}",
            )
        if i < 5:
            w.event(
                p, t + timedelta(minutes=3), "Order Completed", context_channel=ch, order_id=f"O{i}"
            )
            w.event(p, t + timedelta(days=2), "Order Delivered", order_id=f"O{i}")
            w.say(
                p, t + timedelta(days=3), "Love it", 0.7, "joy", event="Review Submitted", rating=5
            )
        if i == 6:  # bought, but ten days later
            w.event(p, t + timedelta(days=10), "Order Completed", context_channel=ch, order_id="O6")
    w.say("s00", t0 + timedelta(days=5), "Where is my refund??", -0.6, "anger", case_id="C1")
    w.event("s00", t0 + timedelta(days=5), "Case Opened", case_id="C1", topic="refund")
    w.finish()
    run_stages(ws, "journeys")
    yield ws
    ws.close()


def test_funnel_counts_and_drop_off_are_exact(jws: Workspace) -> None:
    f = journeys.funnel(jws.store.con, STEPS, within_days=7)
    assert [s.persons for s in f.steps] == [20, 12, 7, 5]
    assert [s.drop_off for s in f.steps] == [0, 8, 5, 2]
    assert f.steps[-1].conversion == 0.25 and f.steps[1].step_conversion == 0.6
    assert f.steps[1].median_seconds == 60 and f.median_seconds_to_convert == 180
    wide = journeys.funnel(jws.store.con, STEPS, within_days=30)
    assert wide.steps[-1].persons == 6  # the late buyer counts with a longer window


def test_funnel_breakdown_by_channel(jws: Workspace) -> None:
    f = journeys.funnel(jws.store.con, STEPS[:2], within_days=7, breakdown="channel")
    assert {k: [s.persons for s in v] for k, v in f.groups.items()} == {
        "web": [10, 6],
        "app": [10, 6],
    }


def test_funnel_breakdown_by_a_property_of_the_entry_event(jws: Workspace) -> None:
    f = journeys.funnel(jws.store.con, STEPS[:2], within_days=7, breakdown="property:product_id")
    assert {k: [s.persons for s in v] for k, v in f.groups.items()} == {"X": [20, 12]}


def test_funnel_rejects_what_it_cannot_compute(jws: Workspace) -> None:
    with pytest.raises(FunnelError, match="at least two"):
        journeys.funnel(jws.store.con, ["Product Viewed"])
    with pytest.raises(FunnelError, match="unknown breakdown"):
        journeys.funnel(jws.store.con, STEPS, breakdown="shoe_size")
    with pytest.raises(FunnelError, match="unknown breakdown"):
        journeys.funnel(jws.store.con, STEPS, breakdown="property:x') or 1=1 --")


def test_paths_after_a_step_for_a_sankey(jws: Workspace) -> None:
    p = journeys.paths(jws.store.con, "Product Viewed", depth=2)
    assert p["occurrences"] == 20
    top = {s["step"]: s["count"] for s in p["top"]}
    assert top == {"Product Added": 12, "(end)": 8}
    links = {(lk["source"], lk["target"]): lk["value"] for lk in p["links"]}
    assert links[("0:Product Viewed", "1:Product Added")] == 12
    assert links[("1:Product Added", "2:Checkout Started")] == 7
    before = journeys.paths(jws.store.con, "Product Viewed", direction="previous", depth=1)
    assert before["top"][0] == {"step": "page:Home", "count": 20, "share": 1.0}


def test_journey_map_has_stages_touchpoints_and_an_emotion_curve(jws: Workspace) -> None:
    m = journeys.journey_map(jws.store.con)
    st_ = {s["stage"]: s for s in m["stages"]}
    assert [s["stage"] for s in m["stages"]][:4] == ["discover", "consider", "buy", "receive"]
    assert st_["discover"]["persons"] == 20 and st_["consider"]["persons"] == 20
    assert st_["buy"]["persons"] == 7  # 7 checked out (one of them bought ten days later)
    assert st_["receive"]["persons"] == 5 and st_["use"]["emotion"] == pytest.approx(0.7)
    assert st_["get help"]["emotion"] == pytest.approx(-0.6)
    assert {t["touchpoint"] for t in st_["consider"]["touchpoints"]} == {"web", "app"}
    one = journeys.journey_map(jws.store.con, person_id="s00")
    assert one["timeline"][0]["step"] == "page:Home" and one["stages"][0]["persons"] == 1


def test_journeys_are_reconstructed_with_outcomes(jws: Workspace) -> None:
    rows = dict(jws.store.con.execute("select journey_id, outcome from journeys").fetchall())
    assert rows["order:O0"] == "delivered" and rows["order:O5"] == "abandoned"
    assert rows["order:O6"] == "completed" and rows["case:C1"] == "open"
    stages = dict(jws.store.con.execute("select journey_id, stages from journeys").fetchall())
    assert stages["order:O0"] == "buy,receive" and stages["case:C1"] == "get help"


def _reference(df: pd.DataFrame, steps: list[str], within: float) -> list[int]:
    counts = [0] * len(steps)
    for _, g in df.sort_values("timestamp").groupby("person_id"):
        firsts = g[g.step == steps[0]]
        if firsts.empty:
            continue
        t0 = prev = firsts["timestamp"].iloc[0]
        counts[0] += 1
        for i, s in enumerate(steps[1:], 1):
            nxt = g[
                (g.step == s)
                & (g["timestamp"] > prev)
                & (g["timestamp"] <= t0 + timedelta(seconds=within))
            ]
            if nxt.empty:
                break
            prev = nxt["timestamp"].iloc[0]
            counts[i] += 1
    return counts


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from("ABC"), st.integers(0, 50)),
                min_size=1, max_size=60),
       st.lists(st.sampled_from("ABC"), min_size=2, max_size=4))  # fmt: skip
def test_funnel_counts_never_increase_and_match_a_reference(
    events: list[tuple[int, str, int]], steps: list[str]
) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    df = pd.DataFrame(
        [{"seq": k, "person_id": f"p{p}", "timestamp": base + timedelta(hours=h), "step": s,
          "channel": "web"} for k, (p, s, h) in enumerate(events)]
    )  # fmt: skip
    con = duckdb.connect()
    con.execute("create table journey_steps as select * from df")
    f = journeys.funnel(con, steps, within_days=1)
    counts = [s.persons for s in f.steps]
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))
    assert counts == _reference(df, steps, 86400)
    assert sum(s.drop_off for s in f.steps) == counts[0] - counts[-1]
    con.close()
