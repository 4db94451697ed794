"""Dashboard figures as a user meets them: a section shows what the store holds now (new
events and a pipeline run show at once, even when no table changes its row count), says
which stage to run when its table is missing, and stays cached while nothing changed."""

from __future__ import annotations

import doctest
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.errors import ValidationError
from empatia.ingest import import_files
from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy.keys import create_key
from empatia.views import dashboard
from empatia.views.dashboard import Dashboard, data_version
from empatia.views.exceptions import NotProducedError
from empatia.workspace import Workspace


@dataclass
class Decider:
    """A stand-in for decide: one next-best action per person from their latest event."""

    name: str = "decide"
    reads: tuple[str, ...] = ("events",)
    writes: tuple[str, ...] = ("decisions",)
    offer: str = "browse_offer"  # what people who have not bought get (a setting)

    def fingerprint(self, ctx: RunContext) -> str:
        return self.offer

    def run(self, ctx: RunContext) -> dict[str, Any]:
        con = ctx.workspace.store.con
        con.execute("delete from decisions")
        con.execute("""
            insert into decisions (person_id, action, kind, reason, fallback, expires_at,
                                   decided_at)
            select user_id, case when arg_max(event, seq) = 'Order Completed' then 'thank_you'
                                 else ? end, 'message', 'latest event', false,
                   now() + interval 7 day, now()
            from events group by user_id""", [self.offer])  # fmt: skip
        return {"decisions": con.execute("select count(*) from decisions").fetchone()[0]}


def _events(ws: Workspace, tmp: Path, name: str, *events: tuple[str, str]) -> None:
    path = tmp / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps({
        "type": "track", "userId": user, "event": event, "messageId": f"{name}-{i}",
        "timestamp": f"2026-10-0{i + 1}T10:00:00Z"}) for i, (user, event) in enumerate(events)))  # fmt: skip
    import_files(ws.store, [path])


def _run(ws: Workspace, decider: Decider | None = None) -> None:
    run_pipeline(RunContext(ws), stages={"decide": decider or Decider()})


def _mix(figures: dashboard.DecisionMix) -> dict[str, int]:
    return {r["action"]: int(r["persons"]) for r in figures.rows}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace(db=tmp_path / "d.duckdb")
    yield w
    w.close()


def test_figures_change_after_new_events_and_a_run(ws: Workspace, tmp_path: Path) -> None:
    board = Dashboard(ws.store)
    _events(ws, tmp_path, "a", ("ala", "Product Viewed"), ("bob", "Product Viewed"))
    _run(ws)
    assert _mix(board.section("decisions")) == {"browse_offer": 2}
    # Ala buys: the same two rows in decisions, one of them changed
    _events(ws, tmp_path, "b", ("ala", "Order Completed"))
    _run(ws)
    assert _mix(board.section("decisions")) == {"browse_offer": 1, "thank_you": 1}


def test_a_run_that_changes_no_row_count_still_shows(ws: Workspace, tmp_path: Path) -> None:
    """The old cache was keyed by row counts: a rerun with a new setting went unseen."""
    board = Dashboard(ws.store)
    _events(ws, tmp_path, "a", ("ala", "Product Viewed"))
    _run(ws)
    assert _mix(board.section("decisions")) == {"browse_offer": 1}
    _run(ws, Decider(offer="free_shipping"))
    assert _mix(board.section("decisions")) == {"free_shipping": 1}


def test_a_section_is_kept_while_the_data_stays_the_same(ws: Workspace, tmp_path: Path) -> None:
    board = Dashboard(ws.store)
    _events(ws, tmp_path, "a", ("ala", "Product Viewed"))
    _run(ws)
    first = board.section("decisions")
    assert board.section("decisions") is first
    _run(ws)  # nothing new: every stage skipped, the same version
    assert board.section("decisions") is first
    before = data_version(ws.store.con)
    _events(ws, tmp_path, "b", ("bob", "Product Viewed"))
    assert data_version(ws.store.con) != before  # new events alone are a new version


def test_the_care_list_is_read_afresh(ws: Workspace) -> None:
    board = Dashboard(ws.store)
    assert board.section("care").total == 0
    ws.store.con.execute(
        "insert into care_list (rank, person_id, influence, risk, value, score, explanation,"
        " evidence, status, computed_at) values (1, 'p_1', 0.5, 0.5, 0.5, 0.9, 'waited', '{}',"
        " 'open', now())")  # fmt: skip
    page = board.section("care")
    assert page.total == 1 and page.rows[0]["person_id"] == "p_1"


def test_a_missing_stage_is_named_and_an_unknown_section_refused(ws: Workspace) -> None:
    board = Dashboard(ws.store)
    with pytest.raises(NotProducedError, match="decide stage has produced no rows in decisions"):
        board.section("decisions")
    ws.store.con.execute("drop table experience_gap")
    with pytest.raises(NotProducedError, match="not produced experience_gap yet"):
        dashboard.gap(ws.store.con)
    with pytest.raises(ValidationError, match="unknown dashboard section 'nope'"):
        board.section("nope")
    with pytest.raises(ValidationError, match="unknown breakdown"):
        dashboard.emotion(ws.store.con, by="shoe size")


def test_the_web_page_shows_the_new_figures_after_a_run(ws: Workspace, tmp_path: Path) -> None:
    _, admin = create_key(ws.store, "admin", "a")
    auth = {"Authorization": f"Bearer {admin}", "hx-request": "true"}
    with TestClient(create_app(ws)) as c:
        assert "Not available yet" in c.get("/dashboard/decisions", headers=auth).text
        _events(ws, tmp_path, "a", ("ala", "Product Viewed"), ("bob", "Product Viewed"))
        _run(ws)
        assert "thank you" not in c.get("/dashboard/decisions", headers=auth).text
        _events(ws, tmp_path, "b", ("ala", "Order Completed"))
        _run(ws)
        html = c.get("/dashboard/decisions", headers=auth).text
    assert "thank you" in html and "browse offer" in html


def test_docstring_examples() -> None:
    result = doctest.testmod(dashboard)
    assert result.failed == 0 and result.attempted > 0
