"""Each policy rule refuses or redirects (pure functions, no store)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from empatia.decide.catalogue import load_catalogue, parse_catalogue
from empatia.decide.explain import explain_item
from empatia.decide.policy import Candidate, LiveContext, PersonState, choose
from empatia.errors import ConfigError

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ALL = {"personalisation": True, "marketing_email": True, "marketing_sms": True,
       "marketing_push": True, "profiling": True}  # fmt: skip
CAT = load_catalogue()


def beans(**kw: object) -> Candidate:
    base = dict(item="sku-beans", score=1.2, components={"buy_again": 1.0, "als": 0.4},
                name="coffee beans", category="coffee_tea", count=6, last_days=17.0,
                interval_days=14.0)  # fmt: skip
    base.update(kw)
    return Candidate(**base)  # type: ignore[arg-type]


def other() -> Candidate:
    return Candidate("sku-mug", 0.8, {"cooccurrence": 1.0}, name="mug", category="home",
                     because=["coffee beans"])


def state(**kw: object) -> PersonState:
    base: dict[str, object] = {"person_id": "p_1", "consents": dict(ALL)}
    base.update(kw)
    return PersonState(**base)  # type: ignore[arg-type]


def test_happy_path_is_an_explained_personal_coupon() -> None:
    d = choose(state(preferred_channel="email"), [beans(), other()], CAT, now=NOW)
    assert d.action == "replenish_coupon" and d.channel == "email" and d.items == ["sku-beans"]
    assert "about every 14 days; last 17 days ago (3 days overdue)" in d.reason
    assert d.scores["sku-beans"]["buy_again"] == 1.0
    assert (d.expires_at - d.decided_at).total_seconds() == 72 * 3600


def test_no_consent_no_action() -> None:
    d = choose(state(consents={}), [beans(), other()], CAT, now=NOW)
    assert d.kind == "nothing" and d.channel is None
    assert any("no personalisation consent" in n for n in d.policy)


def test_channel_consent_moves_to_a_consented_channel() -> None:
    c = dict(ALL, marketing_email=False, marketing_push=False)
    d = choose(state(consents=c, preferred_channel="email"), [beans()], CAT, now=NOW)
    assert d.channel not in ("email", "push")
    assert any("no marketing_email consent" in n for n in d.policy)


def test_without_personalisation_only_labelled_fallbacks() -> None:
    fb = Candidate("sku-pop", 0.5, {"trending": 1.0}, name="popular tea", fallback=True)
    d = choose(state(consents=dict(ALL, personalisation=False)), [beans(), fb], CAT, now=NOW)
    assert "sku-beans" not in d.items
    if d.items:
        assert d.fallback and d.items == ["sku-pop"] and "fallback" in d.reason


def test_angry_person_gets_recovery_never_an_offer() -> None:
    d = choose(state(anger=0.8, clv=50.0), [beans(), other()], CAT, now=NOW)
    assert d.kind == "recovery" and d.action == "apology" and not d.items
    assert any("no sales offer" in n for n in d.policy)
    rich = choose(state(anger=0.8, clv=500.0), [beans()], CAT, now=NOW)
    assert rich.action == "goodwill_credit"


@pytest.mark.parametrize("threat, words", [("leave", "threatened to leave for a competitor"),
                                           ("public", "threatened to go public"),
                                           ("legal", "threatened legal action")])  # fmt: skip
def test_a_threat_gets_recovery_even_when_the_scores_read_mild(threat: str, words: str) -> None:
    # The demo's Persian customer: "next time I'll buy from your competitors", read as −0.31
    # and anger 0.2 — below both thresholds, so the threat alone must turn sales into recovery.
    d = choose(state(anger=0.2, sentiment=-0.31, threats=[threat], clv=50.0), [beans()], CAT,
               now=NOW)  # fmt: skip
    assert d.kind == "recovery" and d.action == "apology" and not d.items
    assert words in d.reason.lower()


def test_strong_frustration_counts_like_anger() -> None:
    d = choose(state(frustration=0.7, sentiment=-0.2), [beans()], CAT, now=NOW)
    assert d.kind == "recovery" and "frustrated (0.70" in d.reason.lower()


def test_unresolved_journey_gets_a_callback_even_without_marketing_consent() -> None:
    d = choose(state(consents={}, unresolved_cases=1, unresolved_topic="delivery"),
               [beans()], CAT, now=NOW)  # fmt: skip
    assert d.action == "service_callback" and d.channel == "call"
    assert "delivery" in d.reason


def test_special_care_goes_to_a_human() -> None:
    d = choose(state(special_care=True, care_reason="musician, 2M followers, angry",
                     anger=0.9), [beans()], CAT, now=NOW)  # fmt: skip
    assert d.kind == "human" and d.action == "human_care" and "musician" in d.reason


def test_contact_fatigue_caps_per_channel_and_in_total() -> None:
    tired = choose(state(preferred_channel="email", contacts={"email": 2}), [beans()], CAT, now=NOW)
    assert tired.channel != "email" and any("email cap reached" in n for n in tired.policy)
    done = choose(state(contacts={"email": 1, "sms": 1, "push": 1}), [beans()], CAT, now=NOW)
    assert done.channel not in ("email", "sms", "push")
    assert any("contact cap reached" in n for n in done.policy)


def test_suppression_after_purchase() -> None:
    d = choose(state(recent_items={"sku-beans": 3.0}, hours_since_purchase=100.0),
               [beans(), other()], CAT, now=NOW)  # fmt: skip
    assert "sku-beans" not in d.items and any("suppressed coffee beans" in n for n in d.policy)
    quiet = choose(state(hours_since_purchase=5.0), [beans()], CAT, now=NOW)
    assert quiet.kind not in ("offer", "coupon") and any("no sales contact" in n for n in quiet.policy)


def test_survey_fatigue_and_recent_purchase() -> None:
    s = choose(state(hours_since_purchase=10.0), [], CAT, now=NOW)
    assert s.action == "survey"
    s2 = choose(state(hours_since_purchase=10.0, may_survey=False), [], CAT, now=NOW)
    assert s2.action == "do_nothing" and any("survey fatigue" in n for n in s2.policy)


def test_progressive_profiling_question_needs_profiling_consent() -> None:
    q = "Which coffee do you prefer: beans or capsules?"
    d = choose(state(next_question=q), [], CAT, now=NOW)
    assert d.action == "profile_question" and q in d.reason
    d2 = choose(state(next_question=q, consents=dict(ALL, profiling=False)), [], CAT, now=NOW)
    assert d2.action != "profile_question"


def test_live_context_near_a_store_and_current_category() -> None:
    live = LiveContext(channel="app", near_store="S12", category="home")
    d = choose(state(), [beans(), other()], CAT, live, NOW)
    assert d.action == "nearby_store_offer" and d.channel == "app"
    assert d.items == ["sku-mug"] and "Near store S12" in d.reason
    assert any("browsing home" in n for n in d.policy)


def test_do_nothing_is_a_valid_answer() -> None:
    weak = Candidate("x", 0.1, {"als": 0.1})
    d = choose(state(), [weak], CAT, now=NOW)
    assert d.action == "do_nothing" and d.reason


def test_explanations() -> None:
    assert "people who buy coffee beans also buy it" in explain_item(other())
    assert "fallback" in explain_item(Candidate("p", 1, {}, name="tea", fallback=True))


def test_catalogue_errors_list_the_valid_values() -> None:
    with pytest.raises(ConfigError, match="valid: offer, coupon"):
        parse_catalogue({"action": [{"id": "x", "kind": "spam"}]})
    with pytest.raises(ConfigError, match="do nothing"):
        parse_catalogue({"action": [{"id": "x", "kind": "offer", "channels": ["email"]}]})
    with pytest.raises(ConfigError, match="known: human_care"):
        CAT.action("nope")


def test_other_stages_hooks_are_asked_only_when_needed() -> None:
    from empatia.decide.policy import Hooks

    asked: list[str] = []

    def question(pid: str) -> str:
        asked.append(pid)
        return "Do you have a pet?"

    sale = choose(state(preferred_channel="email"), [beans()], CAT, now=NOW,
                  hooks=Hooks(next_question=question))  # fmt: skip
    assert sale.kind == "coupon" and asked == []  # an offer won: nobody asked
    q = choose(state(), [], CAT, now=NOW, hooks=Hooks(next_question=question))
    assert q.action == "profile_question" and "pet" in q.reason and asked == ["p_1"]
    no = choose(state(hours_since_purchase=5.0, consents=dict(ALL, profiling=False)), [], CAT,
                now=NOW, hooks=Hooks(next_question=question,
                                     may_survey=lambda pid: (False, "case still open")))  # fmt: skip
    assert no.action == "do_nothing" and any("case still open" in n for n in no.policy)
    assert asked == ["p_1"]  # no profiling consent: not asked


def test_doing_nothing_says_what_stopped_the_offer_in_words() -> None:
    """Never "suppressed by the policy": the recent purchase, the consent, the cap or the
    weak pick that stopped each offer is named."""
    bought = choose(state(recent_items={"sku-beans": 3.0, "sku-mug": 5.0},
                          hours_since_purchase=100.0, may_survey=False),
                    [beans(), other()], CAT, now=NOW)  # fmt: skip
    assert bought.action == "do_nothing"
    assert "bought in the last 14 days" in bought.reason and "coffee beans" in bought.reason
    assert "policy" not in bought.reason
    weak = choose(state(may_survey=False), [Candidate("x", 0.1, {"als": 0.1}, name="tea")],
                  CAT, now=NOW)  # fmt: skip
    assert weak.reason.startswith("Would suggest tea, but") and "scores 0.10 < 0.35" in weak.reason


def test_a_catalogue_without_a_policy_table_keeps_the_shipped_caps() -> None:
    """A workspace's own catalogue that sets one policy number gets every other one from the
    shipped actions.toml (defaults kept once): the per-channel caps still hold; a misspelt
    policy key is an error, not a cap quietly dropped."""
    shipped = load_catalogue()
    own = {"policy": {"max_contacts": 9},
           "action": [{"id": "nothing", "kind": "nothing"},
                      {"id": "mail", "kind": "offer", "purpose": "marketing",
                       "channels": ["email"]}]}  # fmt: skip
    cat = parse_catalogue(own, "mine.toml")
    assert cat.policy.max_contacts == 9
    assert cat.policy.max_per_channel == shipped.policy.max_per_channel
    assert cat.policy.max_per_channel["email"] == 2
    with pytest.raises(ConfigError, match="unknown \\[policy\\] setting.*max_contact\\b"):
        parse_catalogue({**own, "policy": {"max_contact": 9}}, "mine.toml")
