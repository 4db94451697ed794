"""What a CX team would notice: the hurt traveller, honest scores, bots left out, the gap."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from empatia import experience
from empatia.experience.stage import STAGE
from empatia.experience.stats import nps_from_counts, share_score, wilson
from empatia.pipeline import RunContext
from empatia.workspace import Workspace
from tests.experience.conftest import NPS_SET
from tests.experience.world import NOW
from tests.identity.world import add_events, ev


def test_seven_contacts_fixed_booking_is_succeeded_but_hurt_with_own_words(ews: Workspace) -> None:
    rows = experience.hurt_list(ews.store.con)
    assert [r["person_id"] for r in rows] == ["traveller"]
    r = rows[0]
    assert r["contacts"] == 7 and r["channel_switches"] == 5 and r["internal_success"]
    assert r["channel_path"] == "phone>phone>chat>email>phone>chat>phone"
    assert (
        "7 contacts" in r["hurt_reasons"] and "verdict after the fix negative" in r["hurt_reasons"]
    )
    assert r["evidence"][0]["text"].startswith("Seven calls and hours on hold")
    assert r["evidence"][0]["score"] == -0.9
    assert r["left_after"] is True and r["bought_after"] is False
    # the read view keeps the numbers and drops the words
    assert all(
        "text" not in w for w in experience.hurt_list(ews.store.con, with_text=False)[0]["evidence"]
    )


def test_delivered_order_then_a_one_star_review_is_listed_with_the_words(ews: Workspace) -> None:
    from empatia.experience.views import hurt_orders

    (row,) = hurt_orders(ews.store.con)
    assert row["order_id"] == "O77" and row["worst_rating"] == 1
    assert row["evidence"][0]["text"] == "Arrived broken and nobody cares."


def test_easy_journeys_are_not_hurt_and_effort_is_summarised(ews: Workspace) -> None:
    rows = {r["topic"]: r for r in experience.effort_summary(ews.store.con)}
    assert rows["delivery"]["journeys"] == 3 and rows["delivery"]["hurt_share"] == 0
    assert rows["booking"]["contacts"] == 7 and rows["booking"]["transfers"] == 4
    assert rows["booking"]["median_days_to_resolve"] == 7


def test_nps_of_a_known_set_with_an_interval_that_contains_it(ews: Workspace) -> None:
    (row,) = experience.survey_scores(ews.store.con, survey="nps", by="touchpoint")
    assert row["touchpoint"] == "delivery" and row["n"] == len(NPS_SET)
    assert abs(row["score"] - 100 * (5 - 4) / 12) < 1e-9
    assert row["ci_low"] < row["score"] < row["ci_high"]
    assert row["ci_high"] - row["ci_low"] > 20  # 12 answers: a wide interval, honestly
    (csat,) = experience.survey_scores(ews.store.con, survey="csat")
    assert csat["n"] == 3 and abs(csat["score"] - 200 / 3) < 1e-9 and csat["mean"] == 11 / 3


def test_bot_submissions_with_identical_text_are_excluded_with_the_reason(ews: Workspace) -> None:
    con = ews.store.con
    out = {r["person_id"]: r["exclude_reason"] for r in experience.excluded_responses(con)}
    assert {f"bot{i}" for i in range(4)} <= set(out)
    assert "duplicate_text" in out["bot0"] and "speed" in out["bot0"]
    assert out["liner"] == "straight_lining"
    assert not any(p.startswith(("p", "happy")) for p in out)
    (with_bots,) = experience.survey_scores(con, survey="nps", include_excluded=True)
    (clean,) = experience.survey_scores(con, survey="nps")
    assert with_bots["n"] == clean["n"] + 5 and with_bots["score"] > clean["score"]


def test_trajectory_has_the_lowest_point_and_the_direction(ews: Workspace) -> None:
    t = experience.trajectory(ews.store.con, "traveller")
    assert t["texts"] == 8 and t["lowest"] == -0.9 and t["direction"] == "worsening"
    assert t["curve"][-1]["score"] == -0.9 and t["recent"] < t["average"]


def test_perception_gap_puts_the_company_view_beside_the_customers(ews: Workspace) -> None:
    gap = {r["touchpoint"]: r for r in experience.perception_gap(ews.store.con)}
    sc = gap["support_case"]
    assert sc["company_view"] == 1.0 and sc["self_rating"] == 1.0
    assert sc["customer_view"] < 1.0 and sc["gap"] == sc["company_view"] - sc["customer_view"]
    assert gap["overall"]["gap"] > 0


def test_may_survey_respects_fatigue_ignoring_and_consent(ews: Workspace) -> None:
    s = ews.store
    assert experience.may_survey(s, "traveller", NOW) == (True, "last survey 70 days ago")
    ok, why = experience.may_survey(s, "traveller", NOW - timedelta(days=65))
    assert not ok and "wait 14 days" in why
    from empatia.privacy import consent

    consent.record(s, "happy0", "analytics", False, source="test")
    assert experience.may_survey(s, "happy0", NOW) == (False, "no consent for analytics")


def test_may_survey_for_everyone_agrees_with_one_by_one(ews: Workspace) -> None:
    from empatia.experience.hygiene import may_survey_all

    df = may_survey_all(ews.store, NOW - timedelta(days=65))
    one = experience.may_survey(ews.store, "traveller", NOW - timedelta(days=65))
    row = df[df.person_id == "traveller"].iloc[0]
    assert (bool(row.allowed), row.reason) == one


def test_may_survey_stops_after_ignored_surveys(tmp_path: object) -> None:
    from pathlib import Path

    from tests.experience.world import World

    ws = Workspace(db=Path(str(tmp_path)) / "f.duckdb")
    w = World(ws.store)
    for d in (100, 70, 40):
        w.event("quiet", NOW - timedelta(days=d), "Survey Sent", survey="nps")
    w.finish()
    assert experience.may_survey(ws.store, "quiet", NOW) == (
        False,
        "ignored the last 3 surveys: stop asking",
    )
    ws.close()


@given(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300))
def test_nps_interval_contains_the_point(p: int, n: int, d: int) -> None:
    if p + n + d == 0:
        return
    s = nps_from_counts(p, n, d)
    assert -100 <= s.ci_low <= s.score <= s.ci_high <= 100


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_contains_the_proportion(k: int, n: int) -> None:
    k = min(k, n)
    lo, hi = wilson(k, n)
    assert 0 <= lo <= k / n <= hi <= 1


@given(st.lists(st.integers(1, 5), min_size=1, max_size=200))
def test_csat_interval_contains_the_share(scores: list[int]) -> None:
    s = share_score("csat", scores, 4)
    assert s.ci_low <= s.score <= s.ci_high


def _case_owner(tmp_path: Path, *imports: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each import's events in turn (each person their own), experience run: case → person."""
    with Workspace(db=tmp_path / "w.duckdb") as ws:
        for events in imports:
            add_events(ws.store, events)
        ws.store.con.execute("insert into event_persons select seq, user_id from events")
        STAGE.run(RunContext(ws))
        return ws.store.con.execute("select case_id, person_id from experience_journeys").fetchall()


def test_a_case_two_people_share_equally_belongs_to_the_one_who_opened_it(tmp_path: Path) -> None:
    """Identity left two records of one household apart; each wrote twice in the same case:
    the case is the person's who opened it, whatever their ids."""
    case = {"case_id": "C1", "topic": "billing", "channel": "chat"}
    rows = _case_owner(tmp_path, [
        ev(user="zz-opener", event="Case Opened", day=1, properties=case),
        ev(user="aa-partner", event="Support Contact", day=2, properties=case),
        ev(user="zz-opener", event="Support Contact", day=3, properties=case),
        ev(user="aa-partner", event="Case Resolved", day=4, properties=case),
    ])  # fmt: skip
    assert rows == [("C1", "zz-opener")]


def test_the_opener_is_who_wrote_first_in_time_not_whose_events_were_stored_first(
    tmp_path: Path,
) -> None:
    """Events arrive in any order (a call centre's export imported before the chat log): the
    case still belongs to the person whose event came first in time."""
    case = {"case_id": "C1", "topic": "billing", "channel": "chat"}
    rows = _case_owner(tmp_path, [  # stored first, but two days after the case was opened
        ev(user="aa-caller", event="Support Contact", day=3, properties=case),
        ev(user="aa-caller", event="Support Contact", day=4, properties=case),
    ], [
        ev(user="zz-opener", event="Case Opened", day=1, properties=case),
        ev(user="zz-opener", event="Case Resolved", day=5, properties=case),
    ])  # fmt: skip
    assert rows == [("C1", "zz-opener")]


def test_the_latest_emotion_is_that_of_the_latest_text_showing_one(tmp_path: Path) -> None:
    """A short "ok." has a score but no dominant emotion: the person's latest emotion stays
    the anger they wrote before it, not nothing."""
    from tests.experience.world import World

    with Workspace(db=tmp_path / "w.duckdb") as ws:
        w = World(ws.store)
        w.say("p1", NOW - timedelta(days=3), "I am furious about this", -0.8, emotion="anger")
        w.say("p1", NOW - timedelta(days=1), "ok.", 0.0, emotion=None)  # type: ignore[arg-type]
        w.finish()
        STAGE.run(RunContext(ws))
        t = experience.trajectory(ws.store.con, "p1")
    assert t["latest_emotion"] == "anger" and t["latest"] == 0.0
