"""Consent through privacy's one table of uses: withdrawing ``profiling`` stops personal offers
(batch, real time, HTTP, CLI), and consent that cannot be read allows nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from empatia.api.app import create_app
from empatia.cli import app
from empatia.decide import signals
from empatia.decide.api import decide_everyone, decide_now, get_decision
from empatia.decide.catalogue import load_catalogue
from empatia.decide.policy import PersonState, choose
from empatia.decide.realtime import RealTime
from empatia.privacy import consent
from empatia.privacy.keys import create_key
from empatia.privacy.stage import read_consent
from empatia.workspace import Workspace
from tests.decide.test_policy import ALL, NOW, beans
from tests.decide.world import build


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(db=tmp_path / "d.duckdb")
    build(w.store)
    read_consent(w.store)
    consent.ensure_view(w.store)
    return w


def _personal(d: dict[str, object]) -> bool:
    return d["kind"] in ("offer", "coupon") and not d["fallback"]


def test_withdrawing_profiling_stops_the_personal_offer_everywhere(ws: Workspace) -> None:
    decide_everyone(ws)
    assert _personal(decide_now(ws, "p_u8", {"channel": "app"}, record=False))
    assert _personal(get_decision(ws, "p_u8"))
    consent.record(ws.store, "p_u8", "profiling", False, source="api")

    now = decide_now(ws, "p_u8", {"channel": "app"}, record=False)  # real time, at once
    assert not _personal(now)
    assert "no consent for profiling" in now["reason"].lower()
    decide_everyone(ws)  # the nightly batch
    batch = get_decision(ws, "p_u8")
    assert not _personal(batch) and "no consent for profiling" in batch["reason"].lower()

    _, admin = create_key(ws.store, "admin")
    with TestClient(create_app(ws)) as c:
        r = c.post("/v1/decide", json={"person": "p_u8", "context": {"channel": "web"}},
                   headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200, r.text
        assert not _personal(r.json()) and "no consent for profiling" in r.json()["reason"].lower()
    db = str(ws.settings.db)
    ws.close()
    out = CliRunner().invoke(app, ["--db", db, "decide", "p_u8"])
    assert out.exit_code == 0, out.output
    assert "no consent for profiling" in out.output.lower()


def test_a_personal_offer_needs_profiling_but_popular_items_do_not() -> None:
    cat = load_catalogue()
    no_profiling = PersonState("p_1", consents=dict(ALL, profiling=False), preferred_channel="email")
    d = choose(no_profiling, [beans()], cat, now=NOW)
    assert d.kind == "nothing" and d.reason == "No consent for profiling: no personal offer."
    assert "no profiling consent → no personal pick" in d.policy
    assert choose(PersonState("p_1", consents=dict(ALL), preferred_channel="email"),
                  [beans()], cat, now=NOW).kind == "coupon"  # fmt: skip


def test_the_care_team_stays_away_from_a_person_who_objected() -> None:
    cat = load_catalogue()
    care = dict(special_care=True, care_reason="angry journalist")
    assert choose(PersonState("p_1", consents={}, **care), [], cat, now=NOW).kind == "human"
    d = choose(PersonState("p_1", consents={"care": False}, **care), [], cat, now=NOW)
    assert d.kind == "nothing" and "no consent for care" in d.reason
    recovery = choose(PersonState("p_1", consents={"care": False}, unresolved_cases=1), [], cat,
                      now=NOW)  # fmt: skip
    assert recovery.kind == "nothing"


def test_unreadable_consent_allows_nothing(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    decide_everyone(ws)

    def broken(*a: object, **k: object) -> None:
        raise RuntimeError("ledger gone")

    monkeypatch.setattr(signals, "consents", broken)
    rt = RealTime(ws.store, background=False)  # used to raise, or serve a stale snapshot
    for pid in ("p_u8", "p_u4", "p_u2"):  # an offer, special care, an open case
        d = rt.decide(pid, record=False)
        assert d.kind == "nothing" and "could not be checked" in d.reason
    cat = load_catalogue()
    d = choose(PersonState("p_1", consents=None, hours_since_purchase=10.0), [beans()], cat,
               now=NOW)  # fmt: skip
    assert d.kind == "nothing"


def test_before_privacy_has_run_decide_reads_consent_in_events_as_privacy_does(
    tmp_path: Path,
) -> None:
    """One reading of consent in events: decide's fallback (privacy's ledger still empty) and
    privacy's ledger agree on odd spellings — "Marketing" on a channel, a grant written as
    "yes", a purpose in capitals in ``context.consent``, a purpose privacy does not know."""
    from tests.identity.world import add_events, ev

    w = Workspace(db=tmp_path / "c.duckdb")
    build(w.store)
    add_events(w.store, [
        ev(event="Consent Updated", user="u5", day=91,
           properties={"purpose": " Marketing ", "channel": "SMS", "granted": "yes"}),
        ev(event="Page Viewed", user="u5", day=92, context={"consent": {"Profiling": False}}),
        ev(event="Consent Updated", user="u6", day=91,
           properties={"purpose": "newsletter", "granted": True}),
    ])  # fmt: skip
    w.store.con.execute("insert into event_persons select seq, 'p_' || user_id from events"
                        " where seq > (select max(seq) from event_persons)")
    before = signals.consents(w.store)  # the event log: privacy has not run
    assert before["p_u5"]["marketing_sms"] is True and before["p_u5"]["profiling"] is False
    assert "newsletter" not in before["p_u6"]
    read_consent(w.store)
    consent.ensure_view(w.store)
    after = signals.consents(w.store)  # privacy's consent_current
    assert {p: {k: v for k, v in c.items() if k in before.get(p, {})} for p, c in after.items()
            if p in before} == before  # fmt: skip
    w.close()
