"""The journeys stage gives the same tables on Spark as on DuckDB (same Ibis code)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest

from empatia.journeys.build import build
from empatia.journeys.config import StageMap
from empatia.store import Store
from empatia.store.engine import connect
from tests.experience.world import NOW, World, easy_case, seven_steps

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"),
                       reason="set EMPATIA_SPARK_TESTS=1 (a Spark session takes minutes on 2 shared cores)"),
]  # fmt: skip


@pytest.fixture
def spark(spark_session: Any) -> Any:
    return spark_session


def _tables(s: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "steps": s.con.execute(
            "select seq, person_id, step, channel, stage, session_no, journey_id "
            "from journey_steps order by seq"
        ).fetchall(),  # fmt: skip
        "journeys": s.con.execute(
            "select journey_id, person_id, kind, events, stages, outcome "
            "from journeys order by journey_id"
        ).fetchall(),  # fmt: skip
        "sessions": s.con.execute(
            "select person_id, session_no, events, first_step, last_step, "
            "converted from journey_sessions order by 1, 2"
        ).fetchall(),  # fmt: skip
    }


def test_spark_and_duckdb_agree(spark: Any) -> None:
    s = Store(":memory:")
    w = World(s)
    seven_steps(w)
    easy_case(w, "happy", NOW - timedelta(days=9))
    w.event("happy", NOW - timedelta(days=3), type="page", name="Home", context_channel="web")
    w.event("happy", NOW - timedelta(days=3), "Order Completed", order_id="O1")
    # 30 minutes and 0.184 s after the order: a new session (on the 100k world Spark's
    # whole-second gaps joined one such pair into one session)
    w.event("happy", NOW - timedelta(days=3) + timedelta(minutes=30, microseconds=184_000),
            type="page", name="Home", context_channel="web")  # fmt: skip
    w.finish()
    smap = StageMap.default()
    with connect(s) as eng:
        build(eng, smap)
    duck = _tables(s)
    with connect(s, "spark", session=spark) as eng:
        build(eng, smap)
    assert _tables(s) == duck and len(duck["steps"]) == 26
    happy = [r for r in duck["sessions"] if r[0] == "happy"]
    assert happy[-1][1:4] == (5, 1, "page:Home"), happy  # the late page: a session of its own
    s.close()
