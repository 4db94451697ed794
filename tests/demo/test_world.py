"""The demo world, checked for what a user of the demo (or a later stage's test) relies on."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from importlib import import_module

import pandas as pd
import pytest

from empatia.demo import build_world
from empatia.demo.texts import EMOTIONS, LANGUAGES, SENTIMENT, _gendered
from empatia.demo.timeline import END

CUSTOMERS, SEED = 1_500, 11  # as in conftest.py


def _digest(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_same_seed_same_world_other_seed_other_world(tmp_path):
    one = build_world(tmp_path / "1", customers=400, seed=SEED)
    again = build_world(tmp_path / "a", customers=400, seed=SEED)
    assert _digest(again.events) == _digest(one.events)
    assert _digest(again.truth.values()) == _digest(one.truth.values())
    other = build_world(tmp_path / "b", customers=400, seed=SEED + 1)
    assert _digest(other.events) != _digest(one.events)


def test_size_scales_with_customers(world, tmp_path):
    small = build_world(tmp_path / "s", customers=100, seed=1)
    assert 1_000 < small.events_total < world.events_total
    assert 10 < world.events_total / CUSTOMERS < 40  # ~2M events for 100k customers


def test_every_language_and_market(truth):
    people, texts = truth["people"], truth["texts"]
    assert set(LANGUAGES) <= set(people.language)
    assert set(LANGUAGES) <= set(texts.language)
    assert {"PL", "RU", "IR", "DE", "ES", "GB", "US"} <= set(people.market)
    assert set(EMOTIONS) <= set(texts.emotion)


def test_every_event_uses_the_tracking_plan(events):
    names = Counter(e.get("event") for e in events if e["type"] == "track")
    expected = {
        "Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Order Delivered",
        "Product Returned", "Order Refunded", "Booking Created", "Booking Changed", "Booking Fixed",
        "Support Contact", "Case Opened", "Case Resolved", "Review Submitted", "Message Sent",
        "Call Transcribed", "Survey Sent", "Survey Answered", "Consent Updated", "Subject Request",
    }  # fmt: skip
    assert set(names) == expected
    assert {e["type"] for e in events} == {"track", "identify", "page", "screen", "alias"}
    assert len({e["messageId"] for e in events}) == len(events)
    for e in events:
        assert e.get("userId") or e.get("anonymousId")
        assert e["timestamp"] < "2026-11-21"
        channel = e.get("context", {}).get("channel")
        assert channel in {"web", "app", "store", "call_centre", "email", "chat", "crm", "booking"}


def _normal_phone(v: str) -> str:
    digits = re.sub(r"\D", "", v)
    return "+" + (digits[2:] if v.startswith("00") else digits)


def _identifiers(e: dict) -> list[tuple[str, str]]:
    out = []
    if e.get("userId"):
        out.append(("user_id", e["userId"]))
    if e.get("anonymousId"):
        out.append(("anonymous_id", e["anonymousId"]))
    if e.get("previousId"):
        out.append(("anonymous_id", e["previousId"]))
    ctx = e.get("context", {})
    for bag in (e.get("traits", {}), e.get("properties", {}), ctx.get("traits", {})):
        if bag.get("email"):
            out.append(("email", bag["email"].strip().lower()))
        if bag.get("phone"):
            out.append(("phone", _normal_phone(bag["phone"])))
        if bag.get("loyaltyId"):
            out.append(("loyalty_id", bag["loyaltyId"]))
        if bag.get("crmId"):
            out.append(("crm_id", bag["crmId"]))
    if ctx.get("device", {}).get("id"):
        out.append(("device_id", ctx["device"]["id"]))
    return out


def test_every_identifier_in_the_events_belongs_to_a_known_person(events, truth):
    ids = truth["identifiers"]
    known = set(zip(ids.kind, ids.value.str.lower().where(ids.kind == "email", ids.value)))
    seen = {pair for e in events for pair in _identifiers(e)}
    assert seen - known == set()
    assert set(ids.person_id) <= set(truth["people"].person_id)
    kinds = Counter(k for k, _ in seen)
    assert set(kinds) == {"user_id", "anonymous_id", "email", "phone", "device_id", "loyalty_id",
                          "crm_id"}  # fmt: skip


def test_people_leave_several_identifiers_in_several_channels(truth):
    per_person = truth["identifiers"].groupby(["person_id", "kind"]).size().unstack(fill_value=0)
    assert (per_person["email"] >= 2).mean() > 0.2
    assert (per_person["phone"] >= 2).mean() > 0.1
    assert (per_person["anonymous_id"] >= 3).mean() > 0.2


def test_shared_identifiers_are_marked_and_belong_to_several_people(truth):
    ids = truth["identifiers"]
    shared = ids[ids.shared]
    owners = shared.groupby(["kind", "value"]).person_id.nunique()
    assert ("phone", "+48221000000") in owners.index  # the call-centre placeholder
    assert owners[("phone", "+48221000000")] >= 3
    tablets = owners.loc["device_id"]
    assert len(tablets) >= 1 and (tablets >= 2).all()
    assert not ids[~ids.shared].duplicated(["kind", "value"]).any()


def test_anonymous_sessions_are_identified_later(events):
    first_anon: dict[str, str] = {}
    identified_later = set()
    for e in sorted((e for e in events if e["type"] in ("page", "track", "identify")),
                    key=lambda e: e["timestamp"]):  # fmt: skip
        a = e.get("anonymousId")
        if not a or ":" in a:
            continue
        if not e.get("userId"):
            first_anon.setdefault(a, e["timestamp"])
        elif a in first_anon:
            identified_later.add(a)
    assert len(identified_later) > CUSTOMERS * 0.05, len(identified_later)
    guest_orders = [e for e in events if e.get("event") == "Order Completed"
                    and "userId" not in e and "email" in e["properties"]]  # fmt: skip
    assert guest_orders


def test_crm_records_carry_typos_and_no_contact_details(events, truth):
    crm = [
        e
        for e in events
        if e.get("context", {}).get("channel") == "crm" and "crmId" in e.get("traits", {})
    ]
    assert len(crm) == truth["people"].crm_typo.notna().sum() or crm
    assert (
        sum("phone" not in e["traits"] and "email" not in e["traits"] for e in crm) > len(crm) / 2
    )
    people = truth["people"].set_index("person_id")
    ids = truth["identifiers"]
    crm_owner = dict(zip(ids[ids.kind == "crm_id"].value, ids[ids.kind == "crm_id"].person_id))
    typos = 0
    for e in crm:
        person = people.loc[crm_owner[e["traits"]["crmId"]]]
        typos += (
            e["traits"]["firstName"] != person.first_name
            or e["traits"]["lastName"] != person.last_name
        )
    assert typos > len(crm) * 0.1


def _phrases(lang: str, gender: int) -> dict:
    return _gendered(import_module(f"empatia.demo.phrases.{lang}").PHRASES, gender)


def test_texts_in_each_language_carry_the_intended_emotion(events, truth):
    by_id = {e["messageId"]: e for e in events}
    texts = truth["texts"][~truth["texts"].bot]
    gender = truth["people"].set_index("person_id").gender
    checked = Counter()
    for row in texts.itertuples():
        e = by_id[row.message_id]
        text = e["properties"].get("text") or e["properties"]["comment"]
        m = _phrases(row.language, int(gender[row.person_id] == "female"))
        assert any(s in text for s in m["emotion"][row.emotion]), (row.emotion, text)
        if SENTIMENT[row.emotion] == "negative":
            positive = [s for k in ("joy", "gratitude", "surprise") for s in m["emotion"][k]]
            assert not any(s in text for s in positive), text
        checked[row.language] += 1
    assert set(checked) == set(LANGUAGES)


def test_texts_are_varied_and_carry_effort_and_threats(events, truth):
    texts = truth["texts"]
    by_id = {e["messageId"]: e for e in events}
    angry = [by_id[m]["properties"]["text"] for m in texts[texts.emotion == "anger"].message_id
             if "text" in by_id[m]["properties"]]  # fmt: skip
    assert len(set(angry)) > 0.9 * len(angry)
    en = [
        by_id[m]["properties"].get("text", "")
        for m in texts[(texts.language == "en") & texts.effort].message_id
    ]
    assert any(re.search(r"(twice|three|four|five|six|seven|eight|ten) times|hour", t) for t in en)
    assert texts.threat.sum() > 5


def test_special_care_case_is_present(events, truth):
    people = truth["people"]
    case = people[people.planted_case == "damaged_instrument"]
    assert len(case) == 1
    who = case.iloc[0]
    assert who.special_care and who.influencer and who.profession == "musician"
    assert who.followers >= 100_000
    assert people.special_care.sum() >= 3  # more than one person needs care
    journeys = truth["journeys"]
    jr = journeys[journeys.person_id == who.person_id]
    inst = jr[jr.topic == "instrument"].iloc[0]
    assert not inst.resolved and inst.steps >= 4
    words = truth["texts"][truth["texts"].person_id == who.person_id]
    assert {"anger", "frustration"} & set(words.emotion) and words.threat.any()
    uid = truth["identifiers"].query("kind == 'user_id' and person_id == @who.person_id").value
    traits = [e["traits"] for e in events if e["type"] == "identify" and e.get("userId") in set(uid)
              and "followers" in e.get("traits", {})]  # fmt: skip
    assert traits and traits[0]["profession"] == "musician" and traits[0]["followers_by_network"]


def test_seven_steps_succeeded_but_hurt_and_stopped_buying(truth):
    journeys, people = truth["journeys"], truth["people"].set_index("person_id")
    seven = journeys[journeys.planted == "seven_steps"]
    assert len(seven) >= 2
    assert (
        (seven.steps == 7).all() and seven.internal_success.all() and seven.succeeded_but_hurt.all()
    )
    assert (seven.final_emotion == "anger").all() and (seven.channel_switches >= 3).all()
    for row in seven.itertuples():
        assert people.loc[row.person_id, "last_purchase_at"] < row.ended_at + pd.Timedelta(days=12)
        assert people.loc[row.person_id, "n_orders"] >= 3  # they were good customers before
    hurt = journeys.succeeded_but_hurt.mean()
    assert 0.05 < hurt < 0.4
    # the company's own view: nearly everything is a success
    assert journeys[journeys.resolved].internal_success.mean() > 0.85


def test_company_self_ratings_are_rosier_than_customers(events):
    ratings = [
        e["properties"]["agent_rating_internal"]
        for e in events
        if e.get("event") == "Support Contact"
    ]
    assert sum(ratings) / len(ratings) > 4.2
    csat = [e["properties"]["score"] for e in events
            if e.get("event") == "Survey Answered" and e["properties"]["survey"] == "csat"]  # fmt: skip
    assert sum(csat) / len(csat) < 4.2


def test_surveys_show_fatigue_and_bots(events, truth):
    sent = sum(e.get("event") == "Survey Sent" for e in events)
    answers = [e for e in events if e.get("event") == "Survey Answered"]
    assert 0.05 < len(answers) / sent < 0.5
    sv = truth["surveys"]
    bots = sv[sv.is_bot]
    assert len(bots) >= 6 and bots.person_id.nunique() >= 6
    by_id = {e["messageId"]: e for e in answers}
    fast = [by_id[m]["properties"]["duration_seconds"] for m in bots.message_id]
    assert max(fast) <= 3
    human = [by_id[m]["properties"]["duration_seconds"] for m in sv[~sv.is_bot].message_id]
    assert min(human) >= 20
    comments = Counter(by_id[m]["properties"]["comment"] for m in bots.message_id)
    assert comments.most_common(1)[0][1] >= 3  # the same text from different people
    assert bots.bot_reason.str.contains("straight_lining").any()
    assert {"nps", "csat", "ces"} <= set(sv.survey)


def test_consent_and_subject_requests(events, truth):
    consent = [e for e in events if e.get("event") == "Consent Updated"]
    assert any(not e["properties"]["granted"] for e in consent)
    assert any("consent" in e.get("context", {}) for e in events)
    assert {e["properties"]["purpose"] for e in consent} >= {"analytics", "marketing_email"}
    kinds = {e["properties"]["kind"] for e in events if e.get("event") == "Subject Request"}
    assert kinds == {"access", "erasure"}
    people = truth["people"]
    assert 0.2 < people[people.has_account].consent_marketing_email.mean() < 0.6


def test_purchases_have_rhythms_and_truthful_next_windows(events, truth):
    people = truth["people"]
    grocery = people[(people.persona == "grocery_regular") & people.churned_at.isna()
                     & people.next_purchase_at.notna()]  # fmt: skip
    assert len(grocery) > 20
    end = pd.Timestamp(END, unit="s", tz="UTC")
    assert (grocery.next_purchase_from >= end.floor("D")).all()
    assert (grocery.next_purchase_from < grocery.next_purchase_to).all()
    inside = (grocery.next_purchase_at >= grocery.next_purchase_from) & (
        grocery.next_purchase_at <= grocery.next_purchase_to)  # fmt: skip
    assert inside.mean() > 0.6
    assert people[people.persona == "one_off"].n_orders.le(2).all()
    orders = people.n_orders[people.n_orders > 0]
    assert orders.max() > 10 * orders.median()  # a long tail
    months = Counter(e["timestamp"][5:7] for e in events if e.get("event") == "Order Completed")
    assert months["12"] > months["03"]  # Christmas


def test_all_events_pass_ingestion(world):
    from empatia.ingest import import_files
    from empatia.store import Store
    with Store(":memory:") as store:
        report = import_files(store, world.events)
        assert report.rejected == 0
        assert report.accepted == world.events_total
        again = import_files(store, world.events)
        assert again.accepted == 0 and again.duplicates == world.events_total


@pytest.mark.parametrize("bad", [99, 20_000_000])
def test_customers_out_of_range(tmp_path, bad):
    from empatia.errors import ConfigError

    with pytest.raises(ConfigError, match="between 100"):
        build_world(tmp_path, customers=bad)


def test_next_purchases_lie_after_the_end(truth):
    people = truth["people"]
    end = pd.Timestamp(END, unit="s", tz="UTC")
    nxt = people.next_purchase_at.dropna()
    assert len(nxt) > 100 and (nxt >= end).all()
    assert (people.next_purchase_from.dropna() >= end.floor("D")).all()


def test_every_customer_phone_is_a_valid_number(truth):
    from empatia.identity.normalize import normalize_phone

    ids = truth["identifiers"]
    phones = ids[(ids.kind == "phone") & ~ids.get("shared", False)].value.unique()
    assert len(phones) > 100
    bad = [p for p in phones if normalize_phone(p, None) is None]
    assert bad == []
