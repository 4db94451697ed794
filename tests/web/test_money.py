"""Money on the pages keeps its currency: the customer 360 and audiences show codes, converted
revenue says its rates, and amounts without a rate are shown per currency, never summed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy.keys import create_key
from empatia.profiles.api import find_person
from empatia.profiles.money import import_rates
from empatia.web.render import fmt_money
from empatia.workspace import Workspace
from tests.identity.world import add_events, ev
from tests.web.conftest import sign_in


def order(user: str, day: float, total: float, currency: str) -> dict[str, Any]:
    return ev("track", user=user, event="Order Completed", day=day,
              properties={"order_id": f"{user}-{day}", "total": total, "currency": currency},
              context={"consent": {"profiling": True}})  # fmt: skip


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Workspace]]:
    d = tmp_path_factory.mktemp("money")
    ws = Workspace(db=d / "m.duckdb")
    add_events(ws.store, [
        order("eu", 0, 100, "EUR"), order("eu", 3, 860, "PLN"),  # PLN 4.30 from day 0
        order("norate", 0, 50, "EUR"), order("norate", 2, 70, "USD"),
        order("big", 1, 500, "EUR"),
    ])  # fmt: skip
    (d / "rates.csv").write_text("date,currency,rate\n2025-12-31,PLN,4.3\n")
    import_rates(ws.store, d / "rates.csv", "EUR")
    run_pipeline(RunContext(ws), only=["identity", "privacy", "profiles"])
    _, admin = create_key(ws.store, "admin", "money test")
    with TestClient(create_app(ws)) as client:
        sign_in(client, admin)
        yield client, ws
    ws.close()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def page(shop: tuple[TestClient, Workspace], user: str) -> str:
    client, ws = shop
    r = client.get(f"/customers/{find_person(ws.store, 'user_id:' + user)}")
    assert r.status_code == 200, r.text
    return text(r.text)


def test_the_360_shows_converted_revenue_with_its_code_and_rates(
    shop: tuple[TestClient, Workspace],
) -> None:
    body = page(shop, "eu")
    assert "300.00 EUR (converted at the rates of 2025-12-31)" in body  # 100 + 860 / 4.30
    assert "Average order 150.00 EUR" in body
    assert "860.00 PLN" in body and "100.00 EUR" in body  # the orders, in their own currency
    assert "960.00" not in body  # the raw sum of two currencies


def test_the_360_never_adds_up_currencies_without_a_rate(
    shop: tuple[TestClient, Workspace],
) -> None:
    body = page(shop, "norate")
    assert "50.00 EUR + 70.00 USD" in body
    assert "no EUR rate for USD: convert with `empatia rates import`" in body
    assert "120.00" not in body


def test_audiences_filter_and_sum_converted_revenue(shop: tuple[TestClient, Workspace]) -> None:
    client, _ = shop
    r = client.get("/audiences/size", params={"min_revenue": "250"})
    assert r.status_code == 200
    body = text(r.text)
    assert re.search(r"\b2 of 3 people", body), body  # eu (300 EUR) and big (500 EUR)
    assert "Their revenue so far: 800.00 EUR" in body
    assert "cannot match 1 person whose revenue is not converted" in body
    everyone = text(client.get("/audiences/size").text)
    assert "Their revenue so far: 800.00 EUR, leaving out" in everyone
    assert "leaving out 1 person whose amounts have no EUR rate (convert with" in everyone
    assert "Revenue at least (EUR)" in text(client.get("/audiences").text)


def test_an_amount_is_never_shown_without_its_currency() -> None:
    assert fmt_money(1234.5, "pln") == "1,234.50 PLN"
    assert fmt_money(3, None) == "3.00 (currency unknown)"
    assert fmt_money("forty", "EUR") == "invalid: 'forty'"
    assert fmt_money(None, "EUR") == "–"
