"""Money keeps its currency: revenue, average order, RFM and CLV in the reporting currency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from empatia.errors import ValidationError
from empatia.identity.config import IdentityConfig
from empatia.identity.resolve import resolve
from empatia.profiles.config import ProfileConfig
from empatia.profiles.money import Reporting, import_rates, list_rates
from empatia.profiles.stage import run_profiles
from empatia.store import Store
from empatia.store.engine import Engine, connect
from tests.identity.world import add_events, ev


def order(user: str, day: float, total: Any, currency: str | None) -> dict[str, Any]:
    props = {"order_id": f"{user}-{day}", "total": total}
    if currency is not None:
        props["currency"] = currency
    return ev("track", user=user, event="Order Completed", day=day, properties=props)


def rates_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rates.csv"
    p.write_text(text)
    return p


@pytest.fixture
def store() -> Iterator[Store]:
    with Store(":memory:") as s:
        yield s


def build(store: Store, events: list[dict[str, Any]], money: Reporting | None = None,
          **config: Any) -> dict[str, dict[str, Any]]:  # fmt: skip
    add_events(store, events)
    eng: Engine = connect(store)
    try:
        resolve(eng, IdentityConfig(probabilistic=False))
        run_profiles(eng, ProfileConfig(**config), money=money)
    finally:
        eng.close()
    cur = store.con.execute("select * from profiles")
    names = [d[0] for d in cur.description]
    return {r[names.index("user_id")]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_revenue_converts_each_amount_with_the_rate_of_its_day(
    store: Store, tmp_path: Path
) -> None:
    # 2026-01-01 PLN 4.00, from 2026-01-05 PLN 5.00: an order on the 3rd uses the 1st's rate
    import_rates(store, rates_file(tmp_path, "date,currency,rate\n"
                 "2026-01-01,PLN,4.0\n2026-01-05,PLN,5.0\n"), "EUR")  # fmt: skip
    p = build(store, [order("a", 0, 100, "EUR"), order("a", 2, 400, "pln"),
                      order("a", 10, 500, "PLN")])["a"]  # fmt: skip
    assert p["currency"] == "EUR"
    assert p["revenue"] == 100 + 400 / 4.0 + 500 / 5.0  # not 1,000 of nothing
    assert p["avg_order_value"] == 100.0
    assert p["revenue_by_currency"] == {"EUR": 100.0, "PLN": 900.0}
    assert p["rates_from"] == date(2026, 1, 1) and p["rates_to"] == date(2026, 1, 5)
    assert p["revenue_note"] is None


def test_without_a_rate_currencies_are_never_mixed(store: Store) -> None:
    people = build(store, [order("a", 0, 100, "EUR"), order("a", 1, 430, "PLN"),
                           order("b", 0, 50, "EUR"), order("b", 3, 70, "EUR"),
                           order("c", 0, 9, "USD"), order("c", 1, 8, "PLN")])  # fmt: skip
    a, b = people["a"], people["b"]
    assert a["revenue"] is None and a["avg_order_value"] is None and a["m_score"] is None
    assert a["revenue_by_currency"] == {"EUR": 100.0, "PLN": 430.0}
    assert a["revenue_note"] == "no EUR rate for PLN: convert with `empatia rates import`"
    assert a["orders"] == 2
    assert people["c"]["revenue_note"].startswith("no EUR rate for PLN, USD: ")
    assert b["revenue"] == 120.0 and b["m_score"] == 5  # ranked among convertible buyers only


def test_a_rate_only_after_the_order_does_not_convert_it(store: Store, tmp_path: Path) -> None:
    import_rates(store, rates_file(tmp_path, "date,currency,rate\n2026-01-05,PLN,4\n"), "EUR")
    p = build(store, [order("a", 0, 40, "PLN"), order("a", 6, 40, "PLN")])["a"]
    assert p["revenue"] is None and "no EUR rate for PLN" in p["revenue_note"]


def test_orders_without_a_currency_are_left_out_and_said(store: Store) -> None:
    p = build(store, [order("a", 0, 100, "EUR"), order("a", 1, 999, None),
                      order("a", 2, 5, "euro")])["a"]  # fmt: skip
    assert p["revenue"] == 100.0 and p["avg_order_value"] == 100.0 and p["orders"] == 3
    assert p["revenue_note"] == "2 orders without a currency left out"


def test_the_workspace_may_say_orders_without_a_currency_are_in_its_own(store: Store) -> None:
    p = build(store, [order("a", 0, 100, "GBP"), order("a", 1, 20, None)], Reporting("GBP", True))
    assert p["a"]["revenue"] == 120.0 and p["a"]["currency"] == "GBP"
    assert p["a"]["revenue_note"] is None


def test_rfm_and_clv_rank_converted_amounts(store: Store, tmp_path: Path) -> None:
    """A złoty buyer spending 4.3× the figures of a euro buyer is worth the same, not more."""
    import_rates(store, rates_file(tmp_path, "date,currency,rate\n2025-12-01,PLN,4.3\n"), "EUR")
    events = []
    for i in range(24):  # enough buyers for the CLV fit; spend grows with i
        for k in range(2 + i % 3):
            events.append(order(f"e{i}", i % 5 + k * 7, 10 + i, "EUR"))
            events.append(order(f"p{i}", i % 5 + k * 7, round((10 + i) * 4.3, 2), "PLN"))
    people = build(store, events)
    for i in range(24):
        e, p = people[f"e{i}"], people[f"p{i}"]
        assert p["revenue"] == pytest.approx(e["revenue"], abs=0.02)
        assert p["m_score"] == e["m_score"]
        assert p["clv_12m"] == pytest.approx(e["clv_12m"], rel=1e-3)
    assert people["e23"]["clv_12m"] > people["p0"]["clv_12m"]


def test_importing_rates_rebuilds_profiles(store: Store, tmp_path: Path) -> None:
    assert build(store, [order("a", 0, 43, "PLN")])["a"]["revenue"] is None
    import_rates(store, rates_file(tmp_path, "date,currency,rate\n2026-01-01,PLN,4.3\n"), "EUR")
    eng = connect(store)
    assert run_profiles(eng, ProfileConfig(), full=False)["profiles"] == 1
    eng.close()
    assert store.con.execute("select revenue from profiles").fetchone() == (10.0,)


@pytest.mark.parametrize(("text", "says"), [
    ("day,currency,rate\n2026-01-01,PLN,4\n", "header must be date,currency,rate"),
    ("date,currency,rate\n2026-13-01,PLN,4\n", "line 2: date '2026-13-01'"),
    ("date,currency,rate\n2026-01-01,PLN,4\n2026-01-02,zł,4\n", "line 3: 'zł' is not a curr"),
    ("date,currency,rate\n2026-01-01,PLN,-4\n", "must be a positive number"),
    ("date,currency,rate\n2026-01-01,PLN,nan\n", "must be a positive number"),
    ("date,currency,rate\n2026-01-01,EUR,1\n", "EUR is the reporting currency"),
    ("date,currency,rate\n", "has no rates"),
])  # fmt: skip
def test_a_bad_rates_file_is_refused_whole(
    store: Store, tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        import_rates(store, rates_file(tmp_path, text), "EUR")
    assert list_rates(store) == []


def test_rates_are_listed_per_currency_and_reimport_replaces(store: Store, tmp_path: Path) -> None:
    f = rates_file(tmp_path, "date,currency,rate\n2026-01-01,PLN,4.3\n2026-01-02,USD,1.1\n")
    import_rates(store, f, "EUR")
    import_rates(store, rates_file(tmp_path, "date,currency,rate\n2026-01-01,PLN,4.2\n"), "EUR")
    assert [(r["currency"], r["days"], r["latest"]) for r in list_rates(store)] == [
        ("PLN", 1, 4.2),
        ("USD", 1, 1.1),
    ]


def test_the_demo_ships_rates_for_its_currencies_from_before_its_first_day(store: Store) -> None:
    from importlib import resources

    from empatia.demo.names import MARKETS
    from empatia.demo.timeline import START

    done = import_rates(store, Path(str(resources.files("empatia.demo") / "rates.csv")), "EUR")
    assert set(done["currencies"]) == {m[1] for m in MARKETS.values()} - {"EUR"}
    assert done["from"] <= date.fromtimestamp(START)


def test_decide_weighs_purchases_by_converted_prices(store: Store, tmp_path: Path) -> None:
    """The persona recommender's spend feature: 43 PLN at 4.30 is 10 EUR, not 43."""
    from empatia.decide.signals import purchases

    import_rates(store, rates_file(tmp_path, "date,currency,rate\n2026-01-01,PLN,4.3\n"), "EUR")
    line = {"product_id": "beans", "category": "coffee", "price": 43.0, "quantity": 2}
    events = [order("p", 1, 86, "PLN"), order("e", 1, 20, "EUR"), order("x", 1, 86, "USD")]
    for e in events:
        e["properties"]["products"] = [dict(line)]
    events[1]["properties"]["products"][0]["price"] = 10.0
    build(store, events)
    qty = purchases(store).set_index("person")["qty"]
    person = dict(store.con.execute("select user_id, person_id from profiles").fetchall())
    assert qty[person["p"]] == pytest.approx(20.0) and qty[person["e"]] == pytest.approx(20.0)
    assert qty[person["x"]] == 2.0  # no USD rate: the quantity alone, not 86 of another currency
