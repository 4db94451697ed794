from __future__ import annotations

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from empatia.identity.config import KINDS, IdentityConfig
from empatia.identity.resolve import number_nodes, resolve
from empatia.store import Store
from empatia.store.engine import Engine
from tests.identity.world import add_events, ev

CFG = IdentityConfig(probabilistic=False, default_region="PL")


def persons(store: Store) -> dict[tuple[str, str], str]:
    rows = store.con.execute("select kind, value, person_id from identities").fetchall()
    return {(k, v): p for k, v, p in rows}


def test_identifiers_seen_together_are_one_person(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user="u1", anon="a1", traits={"email": " Ala@X.com ", "phone": "22 555 12 34"}),
        ev("track", anon="a2", event="Product Viewed", properties={"email": "ala@x.com"}),
        ev("track", anon="a3", event="Product Viewed", context={"device": {"id": "d3"}}),
        ev("identify", user="u2", traits={"phone": "+48 22 555 12 34"}),
        ev("identify", user="u9", anon="a9", traits={"loyaltyId": "L9", "crmId": "C9"}),
    ])  # fmt: skip
    figures = resolve(duck, CFG)
    ids = persons(mem_store)
    one = ids[("user_id", "u1")]
    for key in [("anonymous_id", "a1"), ("anonymous_id", "a2"), ("email", "ala@x.com"),
                ("phone", "+48225551234"), ("user_id", "u2")]:  # fmt: skip
        assert ids[key] == one, key
    assert ids[("anonymous_id", "a3")] == ids[("device_id", "d3")] != one
    assert ids[("loyalty_id", "L9")] == ids[("crm_id", "C9")] == ids[("user_id", "u9")]
    assert figures["persons"] == 3
    ep = mem_store.con.execute(
        "select count(*), count(distinct person_id) from event_persons"
    ).fetchone()
    assert ep == (5, 3)


def test_over_merge_guard_blocks_placeholder_phone(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user=f"u{i}", traits={"phone": "+48 000 000 000", "email": f"p{i}@x.com"})
        for i in range(8)
    ])  # fmt: skip
    cfg = IdentityConfig(probabilistic=False, max_neighbours={"phone": 3})
    resolve(duck, cfg)
    ids = persons(mem_store)
    assert len({ids[("user_id", f"u{i}")] for i in range(8)}) == 8
    blocked = mem_store.con.execute(
        "select kind, value, neighbour_kind, neighbours, max_allowed, events from identity_blocked"
    ).fetchall()
    assert blocked == [("phone", "+48000000000", "email", 8, 3, 8)]


def test_configured_placeholders_are_blocked(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user="u1", traits={"email": "none@shop.com"}),
        ev("identify", user="u2", traits={"email": "none@shop.com"}),
    ])  # fmt: skip
    resolve(duck, IdentityConfig(probabilistic=False, blocked_values=("email:none@shop.com",)))
    ids = persons(mem_store)
    assert ids[("user_id", "u1")] != ids[("user_id", "u2")]
    reason = mem_store.con.execute("select reason from identity_blocked").fetchone()
    assert reason == ("listed in blocked_values",)


def test_person_ids_are_stable_and_merges_are_recorded(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user="u1", anon="a1", traits={"email": "a@x.com"}),
        ev("track", anon="a1", event="Product Viewed"),
        ev("track", anon="a2", event="Product Viewed"),
        ev("track", anon="a2", event="Product Added"),
    ])  # fmt: skip
    resolve(duck, CFG)
    before = persons(mem_store)
    p1, p2 = before[("user_id", "u1")], before[("anonymous_id", "a2")]
    assert p1 != p2

    # a rerun with nothing new changes nothing
    figures = resolve(duck, CFG)
    assert figures["new_ids"] == 0 and persons(mem_store) == before

    # a2 logs in as u1: the two merge, the bigger person keeps its id
    add_events(mem_store, [ev("track", user="u1", anon="a2", event="Signed In", day=2)])
    figures = resolve(duck, CFG)
    after = persons(mem_store)
    assert after[("anonymous_id", "a2")] == after[("user_id", "u1")] == p1
    assert figures["merges"] == 1
    row = mem_store.con.execute(
        "select action, person_id, other_person_id, identifiers, reason, evidence from merge_history"
    ).fetchone()
    assert row is not None
    assert row[:5] == ("merge", p1, p2, 1, "shared identifier")
    assert "anonymous_id:a2" in row[5]
    moved = mem_store.con.execute("select kind, value from merge_identifiers").fetchall()
    assert moved == [("anonymous_id", "a2")]
    # every event now belongs to p1
    assert mem_store.con.execute("select distinct person_id from event_persons").fetchall() == [
        (p1,)
    ]


def test_full_rebuild_gives_the_same_ids(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user="u1", anon="a1"),
        ev("alias", user="u1", previous="a0"),
        ev("track", anon="a0", event="Product Viewed"),
    ])  # fmt: skip
    resolve(duck, CFG)
    first = persons(mem_store)
    assert first[("anonymous_id", "a0")] == first[("user_id", "u1")]
    mem_store.con.execute("delete from identities")
    resolve(duck, CFG, full=True)
    assert persons(mem_store) == first


@settings(max_examples=40, deadline=None)
@given(st.sets(st.tuples(st.sampled_from(KINDS), st.text(max_size=4)), max_size=40))
def test_identifiers_are_numbered_in_their_order_by_a_window_per_bucket(
    ids: set[tuple[str, str]],
) -> None:
    # the person a component gets is named by its first identifier in (kind, value) order
    pairs = sorted(ids, key=lambda p: (p[0], p[1].encode()))  # the engines' byte order
    t = ibis.memtable({"kind": [k for k, _ in pairs], "value": [v for _, v in pairs]},
                      schema={"kind": "string", "value": "string"})  # fmt: skip
    out = number_nodes(t).to_pyarrow().to_pylist()
    node = {(r["kind"], r["value"]): r["node"] for r in out}
    numbers = [node[p] for p in pairs]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(pairs)
