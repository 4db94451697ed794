"""The orders' product lines, read by the engine's model step, are the lines DuckDB's
``from_json`` reads: odd values (a numeric id, a price as text, a line that is no object, a
broken document) included."""

from __future__ import annotations

from typing import Any

import orjson

from empatia.decide.signals import purchases
from empatia.store import Store
from tests.decide.world import build, order

_PRODUCTS = ('[{"product_id":"VARCHAR","category":"VARCHAR","price":"DOUBLE",'
             '"quantity":"DOUBLE","name":"VARCHAR"}]')


def _duckdb_lines(s: Store) -> list[tuple[Any, ...]]:
    return s.con.execute(f"""
        select ep.person_id, product_id, coalesce(quantity, 1) * (
                   case when cur = 'EUR' then coalesce(price, 1) else 1 end),
               category, coalesce(name, product_id)
        from (select seq, upper(trim(json_extract_string(raw, '$.properties.currency'))) as cur,
                     unnest(from_json(json_extract(raw, '$.properties.products'),
                                           '{_PRODUCTS}'), recursive := true)
              from events where type = 'track' and event = 'Order Completed'
                and json_valid(raw)) o
        join event_persons ep using (seq)
        where product_id is not null order by all
    """).fetchall()


def test_product_lines_are_read_as_duckdb_reads_them() -> None:
    with Store(":memory:") as s:
        build(s, n=5)
        odd = order("u1", 81.0, [0])
        odd["properties"]["products"] = [
            {"product_id": 123, "name": None, "category": "x", "price": "2.5", "quantity": 2},
            "not a line",
            {"product_id": "sku-z", "price": None, "quantity": None, "category": None},
            {"name": "no id"},
        ]
        odd["properties"]["currency"] = " eur"  # the reporting currency: prices count
        none = order("u2", 82.0, [0])
        none["properties"]["products"] = None
        from tests.identity.world import add_events

        add_events(s, [odd, none])
        s.con.execute("insert into event_persons select seq, 'p_' || user_id from events"
                      " where seq > (select max(seq) from event_persons)")
        ours = purchases(s)
        got = sorted(zip(ours["person"], ours["item"], ours["qty"], ours["category"], ours["name"],
                         strict=True))  # fmt: skip
        want = _duckdb_lines(s)
        assert [tuple(r) for r in got] == [tuple(r) for r in want]
        assert ("p_u1", "123", 5.0, "x", "123") in got and len(got) > 10
        assert orjson.dumps(got[0])  # plain values
