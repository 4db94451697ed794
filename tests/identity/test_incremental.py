from __future__ import annotations

import time

from empatia.identity.config import IdentityConfig
from empatia.identity.incremental import attach_new_events
from empatia.identity.resolve import resolve
from empatia.store import Store
from empatia.store.engine import Engine
from tests.identity.world import add_events, ev

CFG = IdentityConfig(probabilistic=False)


def person_of(store: Store, kind: str, value: str) -> str:
    row = store.con.execute(
        "select person_id from identities where kind = ? and value = ?", [kind, value]
    ).fetchone()
    assert row is not None, (kind, value)
    return str(row[0])


def test_new_events_join_their_people_and_merge(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user="u1", anon="a1", traits={"email": "a@x.com"}),
        ev("track", anon="a2", event="Product Viewed"),
        ev("track", anon="a2", event="Product Added"),
    ])  # fmt: skip
    resolve(duck, CFG)
    p1, p2 = person_of(mem_store, "user_id", "u1"), person_of(mem_store, "anonymous_id", "a2")
    assert attach_new_events(mem_store, CFG) == 0

    add_events(mem_store, [
        ev("track", anon="a1", event="Product Viewed", context={"device": {"id": "d1"}}),
        ev("track", anon="a7", event="Product Viewed"),
    ])  # fmt: skip
    t0 = time.perf_counter()
    assert attach_new_events(mem_store, CFG) == 2
    assert time.perf_counter() - t0 < 5
    assert person_of(mem_store, "device_id", "d1") == p1
    p7 = person_of(mem_store, "anonymous_id", "a7")
    assert p7 not in (p1, p2)

    # a7 and a2 sign in as u1: both merge into u1's person at once
    add_events(mem_store, [
        ev("track", user="u1", anon="a7", event="Signed In"),
        ev("identify", anon="a2", traits={"email": "A@x.com"}),
    ])  # fmt: skip
    assert attach_new_events(mem_store, CFG) == 2
    for kind, value in (("anonymous_id", "a7"), ("anonymous_id", "a2")):
        assert person_of(mem_store, kind, value) == p1
    persons = mem_store.con.execute("select distinct person_id from event_persons").fetchall()
    assert persons == [(p1,)]
    merges = mem_store.con.execute(
        "select action, person_id, other_person_id from merge_history order by other_person_id"
    ).fetchall()
    assert sorted(merges) == sorted([("merge", p1, p2), ("merge", p1, p7)])

    # the batch agrees and keeps the ids
    before = mem_store.con.execute("select * from identities order by all").fetchall()
    resolve(duck, CFG)
    assert mem_store.con.execute("select * from identities order by all").fetchall() == before
    ep = mem_store.con.execute("select count(*), count(distinct seq) from event_persons").fetchone()
    assert ep == (7, 7)


def test_guard_holds_on_the_fresh_path(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user=f"u{i}", traits={"phone": "+48 000 000 000"}) for i in range(3)
    ])  # fmt: skip
    cfg = IdentityConfig(probabilistic=False, max_neighbours={"phone": 3})
    resolve(duck, cfg)
    add_events(mem_store, [
        ev("identify", user=f"v{i}", traits={"phone": "+48 000 000 000"}) for i in range(3)
    ])  # fmt: skip
    assert attach_new_events(mem_store, cfg) == 3
    people = mem_store.con.execute(
        "select count(distinct person_id) from identities where kind = 'user_id'"
    ).fetchone()
    assert people is not None and people[0] >= 4  # v1, v2 stay apart once the phone is hot
