"""A small shop for decide tests: rhythmic buyers, consent, an angry customer, an open case,
a special-care person, and a newcomer. Builds its own ``event_persons``/``care_list``/
``text_analysis`` fixture rows when those stages are not there."""

from __future__ import annotations

from typing import Any

from empatia.store import Store
from tests.identity.world import add_events, ev

GRANT = ("personalisation", "marketing_email", "marketing_push", "profiling")
ITEMS = [("sku-beans", "coffee beans", "coffee_tea", 9.0), ("sku-tea", "green tea", "coffee_tea", 4.0),
         ("sku-milk", "milk", "dairy", 1.5), ("sku-mug", "mug", "home", 8.0),
         ("sku-choc", "dark chocolate", "snacks", 2.5), ("sku-soap", "dish soap", "household", 3.0)]  # fmt: skip


def order(user: str, day: float, items: list[int]) -> dict[str, Any]:
    products = [{"product_id": ITEMS[i][0], "name": ITEMS[i][1], "category": ITEMS[i][2],
                 "price": ITEMS[i][3], "quantity": 1} for i in items]  # fmt: skip
    return ev(event="Order Completed", user=user, day=day,
              properties={"order_id": f"{user}-{day}", "products": products})


def world(n: int = 30) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        u = f"u{k}"
        out.append(ev("identify", user=u, day=0, traits={"email": f"u{k}@shop.com"}))
        for p in GRANT:
            out.append(ev(event="Consent Updated", user=u, day=0.1,
                          properties={"purpose": p, "granted": True}))
        gap = 7 + k % 7
        basket = [0, 2] if k % 2 == 0 else [1, 4]
        day = 1.0 + k % 3
        while day < 80:
            out.append(order(u, day, basket + ([3] if k % 5 == 0 else [])))
            day += gap
    # u1 withdraws e-mail marketing later
    out.append(ev(event="Consent Updated", user="u1", day=85,
                  properties={"purpose": "marketing_email", "granted": False}))
    # u2 has an open service case
    out.append(ev(event="Case Opened", user="u2", day=88,
                  properties={"case_id": "c2", "topic": "delivery"}))
    # a newcomer with consent but no orders
    out.append(ev("identify", user="new", day=89, traits={"email": "new@shop.com"}))
    for p in GRANT:
        out.append(ev(event="Consent Updated", user="new", day=89,
                      properties={"purpose": p, "granted": True}))
    out.append(ev(event="Page Viewed", user="u0", day=90))
    return out


def build(store: Store, n: int = 30) -> None:
    add_events(store, world(n))
    if not store.table_exists("event_persons") or not store.con.execute(
        "select count(*) from event_persons"
    ).fetchone()[0]:
        store.con.execute("create table if not exists event_persons (seq bigint, person_id varchar)")
        store.con.execute("insert into event_persons select seq, 'p_' || user_id from events "
                          "where user_id is not null")
    if not store.table_exists("text_analysis"):
        store.con.execute('create table text_analysis (seq bigint, "timestamp" timestamptz, '
                          "anger double, score double)")
    seq = store.con.execute("select max(seq) from events where user_id = 'u3'").fetchone()[0]
    ts = store.con.execute('select "timestamp" from events where seq = ?', [seq]).fetchone()[0]
    cols = {r[0] for r in store.con.execute(
        "select column_name from information_schema.columns where table_name = 'text_analysis'"
    ).fetchall()}
    extra = {"text_hash": "'h'", "analyzer": "'test'"}
    names = ["seq", '"timestamp"', "anger", "score"] + [k for k in extra if k in cols]
    values = ["?", "?", "0.9", "-0.8"] + [extra[k] for k in extra if k in cols]
    store.con.execute(f"insert into text_analysis ({', '.join(names)}) values ({', '.join(values)})",
                      [seq, ts])
    if not store.table_exists("care_list"):
        store.con.execute("create table care_list (rank integer, person_id varchar, "
                          "explanation varchar)")
    cols = {r[0] for r in store.con.execute(
        "select column_name from information_schema.columns where table_name = 'care_list'"
    ).fetchall()}
    extra = {"influence": "0.9", "risk": "0.8", "value": "1.0", "score": "0.72", "evidence": "'{}'",
             "status": "'new'", "computed_at": "now()"}
    names = ["rank", "person_id", "explanation"] + [k for k in extra if k in cols]
    values = ["1", "'p_u4'", "'music journalist with 300k followers, unhappy'"] + [
        extra[k] for k in extra if k in cols]
    store.con.execute(f"insert into care_list ({', '.join(names)}) values ({', '.join(values)})")
