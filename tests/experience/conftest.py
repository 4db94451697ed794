"""A workspace with the small experience world, stages run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from empatia.pipeline import STAGES, RunContext
from empatia.workspace import Workspace
from tests.experience.world import NOW, World, easy_case, seven_steps

NPS_SET = [10, 10, 10, 9, 9, 8, 7, 7, 6, 5, 3, 0]  # 5 promoters, 3 passives, 4 detractors
BOT_TEXT = "Very good service, highly recommended, 10/10 best shop!!!"


def build_world(w: World) -> None:
    seven_steps(w)
    for k in range(3):
        easy_case(w, f"happy{k}", NOW - timedelta(days=40 - k))
    for i, s in enumerate(NPS_SET):
        w.event(f"p{i}", NOW - timedelta(days=20 + i), "Survey Answered", survey="nps", score=s,
                touchpoint="delivery", duration_seconds=45, context_channel="email")  # fmt: skip
    for k, s in enumerate([5, 4, 2]):
        w.event(f"happy{k}", NOW - timedelta(days=30), "Survey Answered", survey="csat", score=s,
                touchpoint="support_case", duration_seconds=30)  # fmt: skip
    for i in range(4):  # bots: the same text from four "people", one second each
        w.event(
            f"bot{i}",
            NOW - timedelta(days=5, seconds=-37 * i),
            "Survey Answered",
            survey="nps",
            score=10,
            touchpoint="delivery",
            duration_seconds=1,
            comment=BOT_TEXT,
        )
    # a straight-liner: three surveys in a minute, all at the top, slow enough to pass as human
    for k, (sv, s) in enumerate((("nps", 10), ("csat", 5), ("ces", 7))):
        w.event("liner", NOW - timedelta(days=4, seconds=-20 * k), "Survey Answered", survey=sv,
                score=s, touchpoint="delivery", duration_seconds=30)  # fmt: skip
    w.event("traveller", NOW - timedelta(days=70), "Survey Sent", survey="csat",
            touchpoint="support_case")  # fmt: skip
    # delivered on time, and then a one-star review: the company's records say success
    w.event("buyer", NOW - timedelta(days=12), "Order Delivered", order_id="O77")
    w.say("buyer", NOW - timedelta(days=10), "Arrived broken and nobody cares.", -0.7, "anger",
          event="Review Submitted", rating=1, public=True)  # fmt: skip
    w.finish()


def run_stages(ws: Workspace, *names: str) -> None:
    for name in names:
        STAGES[name].run(RunContext(ws))


@pytest.fixture(scope="session")
def ews(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Built once; tests only read it (consent records aside)."""
    ws = Workspace(db=tmp_path_factory.mktemp("exp") / "exp.duckdb")
    build_world(World(ws.store))
    run_stages(ws, "experience", "journeys")
    yield ws
    ws.close()
