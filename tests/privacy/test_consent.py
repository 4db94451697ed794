"""Consent: the ledger from events and the API, the derived state, the one check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from empatia.errors import ConsentError, ValidationError
from empatia.privacy import allowed_sql, check, record, require
from empatia.privacy.consent import current
from empatia.store import Store
from empatia.store.store import discover_migrations
from empatia.workspace import Workspace

from .conftest import ALA, BOB


def person(ws: Workspace, user_id: str) -> str:
    row = ws.store.con.execute(
        "select person_id from identities where kind = 'user_id' and value = ?", [user_id]
    ).fetchone()
    assert row
    return str(row[0])


def test_events_and_context_become_consent_of_the_stitched_person(world: Workspace) -> None:
    ala = person(world, ALA["user_id"])
    assert check(world.store, ala, "marketing", channel="email")  # context.consent on identify
    assert check(world.store, ala, "partner_sharing")  # Consent Updated track event
    assert check(world.store, ala, "profiling")
    assert not check(world.store, ala, "marketing_sms")  # never given: opt-in
    assert check(world.store, ala, "analytics")  # legitimate interest until withdrawn
    states = current(world.store, ala)
    assert states["partner_sharing"].source == "event"
    assert states["marketing_email"].source == "context"


def test_latest_decision_wins_and_the_ledger_keeps_all(world: Workspace) -> None:
    ala = person(world, ALA["user_id"])
    record(world.store, ala, "partner_sharing", False, source="api")
    assert not check(world.store, ala, "partner_sharing")
    with pytest.raises(ConsentError):
        require(world.store, ala, "partner_sharing")
    n = world.store.con.execute(  # the event's decision and the API's
        "select (select count(*) from consent_ledger where purpose = 'partner_sharing'),"
        " (select count(*) from consent_events where purpose = 'partner_sharing')"
    ).fetchone()  # fmt: skip
    assert n == (1, 1)
    record(world.store, ala, "analytics", False)
    assert not check(world.store, ala, "analytics")


def test_a_withdrawal_wins_whichever_clock_says_it_is_later() -> None:
    # (This test used to say the opposite: an older withdrawal learnt later did not count,
    # which is how a grant dated in the future beat the person's own later withdrawal.)
    s = Store(":memory:")
    record(s, "p_1", "profiling", True, at=datetime(2026, 5, 1, tzinfo=UTC))
    record(s, "p_1", "profiling", False, at=datetime(2026, 1, 1, tzinfo=UTC))
    assert not check(s, "p_1", "profiling")  # learnt later: the withdrawal wins
    record(s, "p_2", "profiling", False, at=datetime(2026, 5, 1, tzinfo=UTC))
    record(s, "p_2", "profiling", True, at=datetime(2026, 1, 1, tzinfo=UTC))
    assert not check(s, "p_2", "profiling")  # an older grant learnt later does not undo it
    assert not current(s, "p_2")["profiling"].granted
    record(s, "p_2", "profiling", True)
    assert check(s, "p_2", "profiling")  # a new grant does


def test_sql_form_agrees_with_check(world: Workspace) -> None:
    ala, bob = person(world, ALA["user_id"]), person(world, BOB["user_id"])
    for purpose in ("partner_sharing", "analytics", "marketing_email", "profiling"):
        rows = dict(world.store.con.execute(
            f"select person_id, {allowed_sql(purpose, 'p.person_id')} from profiles p"
        ).fetchall())  # fmt: skip
        assert rows[ala] == check(world.store, ala, purpose)
        assert rows[bob] == check(world.store, bob, purpose)


def test_unknown_purposes_are_refused_with_the_valid_ones() -> None:
    s = Store(":memory:")
    with pytest.raises(ValidationError, match="partner_sharing"):
        check(s, "p_1", "selling")
    with pytest.raises(ValidationError, match="channels"):
        record(s, "p_1", "marketing", True, channel="fax")


def test_before_stitching_consent_is_kept_under_the_id() -> None:
    s = Store(":memory:")
    record(s, "user_id:u9", "marketing_sms", True)
    assert check(s, "user_id:u9", "marketing", channel="sms")


def test_full_rerun_rebuilds_event_consent_once(world: Workspace) -> None:
    from empatia.pipeline import RunContext, run_pipeline

    before = world.store.con.execute("select count(*) from consent_events").fetchone()[0]  # type: ignore[index]
    run_pipeline(RunContext(world), only=("privacy",))
    run_pipeline(RunContext(world, full=True), only=("privacy",))
    after = world.store.con.execute("select count(*) from consent_events").fetchone()[0]  # type: ignore[index]
    assert before == after == 3


def test_a_question_is_not_asked_when_consent_cannot_be_read(world: Workspace) -> None:
    from empatia.privacy.profiling import next_question

    ala = person(world, ALA["user_id"])
    world.store.con.execute("drop view consent_current")
    d = next_question(world.store, ala)
    assert d.question is None and d.reasons == ["consent could not be checked: refused until it can"]


def test_a_ledger_from_before_consent_events_keeps_every_decision(tmp_path: Path) -> None:
    """A store whose ledger held the decisions read from events too (privacy 0003) moves them
    to ``consent_events`` when a newer Empatia opens it: nobody's consent changes."""
    db = tmp_path / "old.duckdb"
    old = [m for m in discover_migrations() if m.component != "privacy" or m.version <= 3]
    t = "2026-01-0{}T00:00:00Z"
    with Store(db, migrate=False) as s:
        s.migrate(old)
        s.con.execute(
            "insert into consent_ledger (consent_id, person_id, user_id, purpose, granted,"
            " source, seq, decided_at, recorded_at) values"
            " (1, null, 'u1', 'marketing_email', true, 'event', 7, ?, ?),"
            " (2, null, 'u1', 'marketing_email', false, 'context', 7, ?, ?),"
            " (3, null, 'u2', 'profiling', true, 'event', 8, ?, ?),"
            " (4, 'p_9', null, 'profiling', false, 'api', null, ?, ?)",
            [t.format(1), t.format(2), t.format(1), t.format(2), t.format(1), t.format(2),
             t.format(3), t.format(3)],
        )  # fmt: skip
        before = s.con.execute("select * from consent_current order by all").fetchall()
    with Store(db) as s:
        assert s.con.execute("select count(*) from consent_ledger").fetchone() == (1,)
        assert s.con.execute("select seq, part, source from consent_events order by all"
                             ).fetchall() == [(7, 0, "event"), (7, 1, "context"), (8, 0, "event")]
        assert s.con.execute("select * from consent_current order by all").fetchall() == before
        assert not check(s, "user_id:u1", "marketing", channel="email")  # the later context won
        assert check(s, "user_id:u2", "profiling") and not check(s, "p_9", "profiling")
