"""The privacy stage's backstop: events of an erased person that reached the log anyway (an
import that raced the erasure) go at the next run, with what identity stitched from them —
the same rows on DuckDB and on Spark."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy import tombstones
from empatia.workspace import Workspace
from tests.identity.world import add_events, ev

ALA, BOB = "ala@kot.pl", "bob@pies.pl"


def _world(ws: Workspace) -> None:
    add_events(ws.store, [
        ev("identify", user="u-ala", traits={"email": ALA}, day=1),
        ev(user="u-ala", event="Order Completed", day=2, properties={"total": 5}),
        ev("identify", anon="dev-2", traits={"email": ALA}, day=3),  # a new device, her e-mail
        ev("identify", user="u-bob", traits={"email": BOB}, day=1),
        ev(user="u-bob", event="Order Completed", day=2, properties={"total": 7}),
    ])  # fmt: skip


def _run(tmp_path: Path, engine: str, session: Any = None) -> dict[str, Any]:
    with Workspace(db=tmp_path / f"{engine}.duckdb") as ws:
        _world(ws)
        run_pipeline(RunContext(ws), only=("identity", "privacy"))
        # Erased while her events were in flight: the tombstones are there, the rows too.
        tombstones.add(ws.store, [("user_id", "u-ala"), ("email", ALA)])
        ctx = RunContext(ws, engine=engine, spark_session=session)
        (result,) = run_pipeline(ctx, only=("privacy",))
        con = ws.store.con
        return {
            "dropped": result.figures["late_events_dropped"],
            "events": con.execute("select user_id, anonymous_id, event from events order by seq").fetchall(),
            "persons": con.execute("select count(*) from event_persons").fetchall(),
            "identifiers": sorted(r[0] for r in con.execute(
                "select value from identity_event_ids where kind = 'email'").fetchall()),  # fmt: skip
            "rewrite": con.execute("select count(*) from privacy_state where key = 'rewrite_pending'").fetchall(),
        }


def test_a_late_event_of_an_erased_person_goes_with_what_was_stitched_from_it(tmp_path: Path) -> None:
    out = _run(tmp_path, "duckdb")
    assert out["dropped"] == 3  # her two events by user id, and the new device's by e-mail
    assert out["events"] == [("u-bob", None, None), ("u-bob", None, "Order Completed")]
    assert out["persons"] == [(2,)] and out["identifiers"] == [BOB]


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1")
def test_the_same_rows_go_on_spark(tmp_path: Path, spark_session: Any) -> None:
    assert _run(tmp_path, "spark", spark_session) == _run(tmp_path, "duckdb")
