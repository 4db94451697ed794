"""Finding #8 of issue #13: a survey is not sent when consent cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from empatia.errors import ConsentError
from empatia.experience.hygiene import may_survey, may_survey_all
from empatia.store import Store

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_no_survey_when_the_consent_ledger_is_broken() -> None:
    s = Store(":memory:")
    assert may_survey(s, "p_1", NOW) == (True, "no survey sent to this person yet")
    s.con.execute("drop view consent_current")  # the consent source is gone
    ok, why = may_survey(s, "p_1", NOW)
    assert not ok and "consent could not be checked" in why
    with pytest.raises(ConsentError, match="consent could not be checked"):
        may_survey_all(s, NOW)


def test_no_survey_when_reading_consent_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from empatia.privacy import consent

    def broken(*a: object, **k: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(consent, "current", broken)
    monkeypatch.setattr(consent, "check", broken)
    assert may_survey(Store(":memory:"), "p_1", NOW)[0] is False
