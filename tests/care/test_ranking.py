"""Who is on the list, in which order, and why."""

from __future__ import annotations

from empatia import care
from empatia.care.config import CareWeights
from empatia.store import Store
from tests.care.world import World


def test_the_angry_musician_tops_the_list(
    cstore: Store, world: World, weights: CareWeights
) -> None:
    figures = care.run_care(cstore.con, weights)
    rows = care.care_list(cstore.con)
    assert [r["person_id"] for r in rows][:1] == ["musician"]
    assert figures["entered"] == len(rows) >= 1
    top = rows[0]
    assert top["influence"] > 0.5 and top["risk"] > 0.8
    assert abs(top["score"] - top["influence"] * top["risk"] * top["value"]) < 1e-9
    why = top["explanation"]
    for part in ("musician", "184k followers", "4 contacts in 7 days about instrument",
                 "still unresolved", "last message angry", "threatened to go public",
                 "1-star public review"):  # fmt: skip
        assert part in why, why
    assert {m["seq"] for m in top["evidence"]["messages"]}
    assert top["evidence"]["journeys"][0]["case_id"] == "C1"


def test_influence_alone_or_anger_alone_is_not_enough(cstore: Store, world: World,
                                                       weights: CareWeights) -> None:  # fmt: skip
    care.run_care(cstore.con, weights)
    listed = {r["person_id"] for r in care.care_list(cstore.con)}
    assert "celebrity" not in listed  # 2M followers, but happy
    assert "nobody" not in listed  # furious, but no audience
    assert "grudge" not in listed  # angry influencer, but 200 days ago


def test_weights_are_transparent_and_configurable(cstore: Store, world: World) -> None:
    from empatia.care.config import load_weights

    w = load_weights(overrides={"influence": {"floor": 0.5}})  # everyone can go viral
    care.run_care(cstore.con, w, deliver=False)
    rows = care.care_list(cstore.con)
    assert "nobody" in {r["person_id"] for r in rows}
    f = rows[0]["evidence"]["factors"]
    assert {"influence.audience", "risk.escalation"} <= set(f)


def test_read_key_sees_no_quotes_admin_does(
    cstore: Store, world: World, weights: CareWeights
) -> None:
    care.run_care(cstore.con, weights)
    read = care.entry(cstore.con, "musician", "read")
    admin = care.entry(cstore.con, "musician", "admin")
    assert read["evidence"]["messages"] and not any(
        "text" in m for m in read["evidence"]["messages"]
    )
    assert any("I will tell all my followers" in (m.get("text") or "")
               for m in admin["evidence"]["messages"])  # fmt: skip
    assert "follow" not in str(care.care_list(cstore.con, viewer="read")[0]["evidence"]["messages"])
    assert all(m.get("emotion") for m in read["evidence"]["messages"])


def test_empty_store_and_missing_stages() -> None:
    with Store(":memory:") as s:
        assert care.run_care(s.con)["listed"] == 0
        assert care.care_list(s.con) == []


def test_people_who_withdrew_a_listed_purpose_are_left_out(cstore: Store, world: World) -> None:
    from empatia.care.config import load_weights

    world.event("musician", 2, event="Consent Updated",
                properties={"purpose": "profiling", "granted": False})  # fmt: skip
    world.finish()
    care.run_care(cstore.con, load_weights(), deliver=False)
    assert "musician" in {
        r["person_id"] for r in care.care_list(cstore.con)
    }  # default: no consent needed
    w = load_weights(overrides={"privacy": {"exclude_without": ["profiling"]}})
    figures = care.run_care(cstore.con, w, deliver=False)
    assert figures["excluded_by_consent"] == 1
    assert "musician" not in {r["person_id"] for r in care.care_list(cstore.con)}


def test_reads_the_experience_stage_journeys_when_it_has_run(cstore: Store, world: World) -> None:
    from empatia.care.config import load_weights

    cstore.con.execute(
        """insert into experience_journeys (person_id, case_id, topic, first_at, last_at, last_seq,
               contacts, channel_switches, wait_seconds, resolved, internal_success,
               succeeded_but_hurt, hurt_reasons)
           values ('fan', 'C5', 'app', timestamptz '2026-06-24 12:00+00', timestamptz '2026-06-27 00:00+00',
                   null, 6, 3, 7200, true, true, true, '6 contacts, 3 channel switches')"""
    )  # fmt: skip
    care.run_care(cstore.con, load_weights(), deliver=False)
    fan = care.entry(cstore.con, "fan")
    assert "closed as a success but it hurt (6 contacts, 3 channel switches)" in fan["explanation"]


def test_a_stray_future_event_does_not_age_everything(cstore: Store, world: World) -> None:
    from empatia.care.config import load_weights
    from empatia.care.inputs import as_of

    for day in range(40):  # normal traffic: ten page views a day …
        for i in range(10):
            world.event(f"quiet{i % 5}", day + i / 100, event="Page Viewed")
    before = as_of(cstore.con)
    world.event("quiet0", -30, event="Support Contact", properties={"case_id": "late"})  # … a stray
    world.finish()
    assert as_of(cstore.con) == before
    care.run_care(cstore.con, load_weights(), deliver=False)
    assert care.care_list(cstore.con)[0]["person_id"] == "musician"
