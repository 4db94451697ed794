from __future__ import annotations

import pytest

from empatia.errors import NotFoundError, ValidationError
from empatia.identity.config import IdentityConfig
from empatia.identity.resolve import resolve
from empatia.identity.unmerge import history, split, unmerge
from empatia.store import Store
from empatia.store.engine import Engine
from tests.identity.world import add_events, ev

CFG = IdentityConfig(probabilistic=False)


def people(store: Store) -> dict[str, str]:
    rows = store.con.execute("select kind || ':' || value, person_id from identities").fetchall()
    return dict(rows)


def events_of(store: Store, pid: str) -> int:
    row = store.con.execute(
        "select count(*) from event_persons where person_id = ?", [pid]
    ).fetchone()
    return int(row[0]) if row else 0


def test_unmerge_gives_back_identifiers_events_and_id(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user="ala", anon="a1", traits={"email": "ala@x.com"}),
        ev("track", anon="a1", event="Product Viewed"),
        ev("identify", user="bob", anon="b1", traits={"email": "bob@x.com"}),
    ])  # fmt: skip
    resolve(duck, CFG)
    before = people(mem_store)
    ala, bob = before["user_id:ala"], before["user_id:bob"]
    # a shared tablet: bob's anonymous id shows up with ala's login
    add_events(mem_store, [ev("track", user="ala", anon="b1", event="Signed In")])
    resolve(duck, CFG)
    assert people(mem_store)["user_id:bob"] == ala
    merge = history(mem_store, ala)[0]
    assert merge["action"] == "merge" and merge["other_person_id"] == bob

    unmerge(mem_store, merge["merge_id"], config=CFG)
    after = people(mem_store)
    assert after["user_id:bob"] == after["email:bob@x.com"] == bob
    assert after["user_id:ala"] == after["anonymous_id:a1"] == ala
    assert events_of(mem_store, ala) == 3 and events_of(mem_store, bob) == 1
    assert {"unmerge", "split"} <= {h["action"] for h in history(mem_store, bob)}
    # and it stays apart on later runs
    resolve(duck, CFG)
    assert people(mem_store) == after


def test_split_without_history(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, [
        ev("identify", user="mum", anon="tab", traits={"email": "mum@x.com"}),
        ev("identify", user="kid", anon="tab", traits={"email": "kid@x.com"}),
    ])  # fmt: skip
    resolve(duck, CFG)
    assert len(set(people(mem_store).values())) == 1
    figures = split(mem_store, [("user_id", "kid"), ("email", "kid@x.com")], config=CFG)
    after = people(mem_store)
    assert after["user_id:kid"] == after["email:kid@x.com"] == figures["person_id"]
    assert after["user_id:mum"] != figures["person_id"]


def test_unknown_merge(mem_store: Store) -> None:
    with pytest.raises(NotFoundError):
        unmerge(mem_store, "m_nope")
    with pytest.raises(ValidationError):
        split(mem_store, [])
