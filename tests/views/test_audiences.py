"""Audiences as a user meets them: consent decides who is in, the export leaves out whoever
did not agree to its purpose and is audited, and the HTTP API keeps contact details from all
but admin keys."""

from __future__ import annotations

import csv
import doctest
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.errors import ForbiddenError, ValidationError
from empatia.privacy.consent import record
from empatia.privacy.keys import SCOPES, create_key
from empatia.store import Store
from empatia.views import audiences
from empatia.views.audiences import AudienceFilters, export, members, size
from empatia.views.exceptions import NotProducedError
from empatia.workspace import Workspace

#: (person, market, orders, revenue, consent granted): Ala allows profiling and e-mail, Bob
#: profiling only, Cyd nothing, Dan (another market) both.
PEOPLE = [
    ("p_ala", "PL", 3, 300.0, ("profiling", "marketing_email")),
    ("p_bob", "PL", 5, 500.0, ("profiling",)),
    ("p_cyd", "PL", 9, 900.0, ()),
    ("p_dan", "DE", 1, 100.0, ("profiling", "marketing_email")),
]


def _fill(store: Store) -> None:
    for pid, market, orders, revenue, allowed in PEOPLE:
        store.con.execute(
            "insert into profiles (person_id, market, orders, revenue, currency, email, first_name)"
            " values (?, ?, ?, ?, 'EUR', ?, ?)",
            [pid, market, orders, revenue, f"{pid}@example.com", pid[2:].title()],
        )
        for purpose in allowed:
            record(store, pid, purpose, True, source="test")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "a.duckdb")
    _fill(s)
    yield s
    s.close()


def test_an_audience_holds_only_people_whose_consent_allows_it(store: Store) -> None:
    pl = AudienceFilters(market="PL")
    got = size(store, pl)
    assert (got.people, got.reachable, got.everyone) == (2, 1, 4)  # Cyd is left out
    assert got.revenue == 800.0 and got.currency == "EUR"
    assert members(store, pl).column("person_id").to_pylist() == ["p_ala", "p_bob"]
    record(store, "p_bob", "profiling", False, source="test")  # Bob withdraws: out at once
    assert members(store, pl).column("person_id").to_pylist() == ["p_ala"]
    assert size(store, AudienceFilters(market="PL", min_orders=4)).people == 0


def test_the_export_leaves_out_who_did_not_allow_its_purpose_and_is_audited(store: Store) -> None:
    table = export(store, AudienceFilters(market="PL"), actor="key:k_test")
    assert table.column("person_id").to_pylist() == ["p_ala"]  # Bob allows no e-mail
    assert table.column("email").to_pylist() == ["p_ala@example.com"]
    sms = export(store, AudienceFilters(market="PL", purpose="marketing_sms"), actor="key:k_test")
    assert sms.num_rows == 0
    logged = store.con.execute(
        "select actor, action, subject, detail from privacy_audit order by audit_id").fetchall()  # fmt: skip
    assert logged == [("key:k_test", "export", None, "audience: 1 people for marketing_email"),
                      ("key:k_test", "export", None, "audience: 0 people for marketing_sms")]  # fmt: skip
    assert "p_ala@example.com" not in str(logged)  # the log names no one


def test_without_the_consent_view_nobody_is_in_any_audience(store: Store) -> None:
    store.con.execute("drop view consent_current")
    with pytest.raises(NotProducedError, match="consent_current"):
        size(store, AudienceFilters())
    with pytest.raises(NotProducedError):
        members(store, AudienceFilters())
    with pytest.raises(ForbiddenError, match="nothing may be exported"):
        export(store, AudienceFilters(), actor="key:k_test")
    assert store.con.execute("select count(*) from privacy_audit").fetchone() == (0,)


def test_filters_whose_stage_has_not_run_are_named(store: Store) -> None:
    store.con.execute("drop table experience_trajectories")
    got = size(store, AudienceFilters(market="PL", direction="worsening", max_mood=0.0))
    assert got.ignored == ("direction", "max_mood") and got.people == 2


def test_the_web_form_is_read_leniently_but_a_wrong_purpose_is_an_error() -> None:
    f = AudienceFilters.from_query({"min_orders": "abc", "vip": "no", "care": "yes", "x": "1"})
    assert f == AudienceFilters(care=True)
    with pytest.raises(ValidationError, match="unknown purpose 'nope'"):
        AudienceFilters.from_query({"purpose": "nope"})


def test_docstring_examples() -> None:
    result = doctest.testmod(audiences)
    assert result.failed == 0 and result.attempted > 0


# -- over HTTP ------------------------------------------------------------------------------
@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Workspace]]:
    ws = Workspace(db=tmp_path / "h.duckdb")
    _fill(ws.store)
    keys = {s: create_key(ws.store, s, s)[1] for s in SCOPES}
    with TestClient(create_app(ws)) as c:
        yield c, keys, ws
    ws.close()


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_http_a_write_key_reads_nothing_and_a_read_key_no_contact_details(client) -> None:
    c, keys, _ = client
    for path in ("/v1/audiences/size", "/v1/audiences/members", "/v1/audiences/export"):
        r = c.get(path, params={"market": "PL"}, headers=_auth(keys["write"]))
        assert r.status_code == 403 and "example.com" not in r.text, path
    r = c.get("/v1/audiences/members", params={"market": "PL"}, headers=_auth(keys["read"]))
    assert r.status_code == 200
    assert [m["person_id"] for m in r.json()] == ["p_ala", "p_bob"]
    assert "email" not in r.json()[0] and "example.com" not in r.text
    r = c.get("/v1/audiences/export", params={"market": "PL"}, headers=_auth(keys["read"]))
    assert r.status_code == 403


def test_http_size_members_and_export(client) -> None:
    c, keys, ws = client
    r = c.get("/v1/audiences/size", params={"market": "PL", "purpose": "marketing_email"},
              headers=_auth(keys["read"]))  # fmt: skip
    assert r.status_code == 200 and (r.json()["people"], r.json()["reachable"]) == (2, 1)
    r = c.get("/v1/audiences/members", params={"market": "PL", "format": "csv", "limit": 1},
              headers=_auth(keys["read"]))  # fmt: skip
    assert [row["person_id"] for row in csv.DictReader(io.StringIO(r.text))] == ["p_ala"]
    r = c.get("/v1/audiences/export", params={"market": "PL"}, headers=_auth(keys["admin"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["person_id"], x["email"]) for x in rows] == [("p_ala", "p_ala@example.com")]
    actions = ws.store.con.execute(
        "select action, detail from privacy_audit where detail like '%audience%'").fetchall()  # fmt: skip
    assert ("export", "api audience: 1 people for marketing_email") in actions
    assert ("read", "GET /v1/audiences/members: 1 people") in actions


@pytest.mark.parametrize("params", [{"min_orders": "abc"}, {"bogus": "1"},
                                    {"purpose": "nope"}, {"direction": "sideways"}])  # fmt: skip
def test_http_a_bad_filter_is_a_clear_400(client, params) -> None:
    c, keys, _ = client
    r = c.get("/v1/audiences/size", params=params, headers=_auth(keys["read"]))
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    assert next(iter(params)) in r.json()["message"]


def test_http_before_profiles_exist_says_what_to_run(tmp_path: Path) -> None:
    ws = Workspace(db=tmp_path / "e.duckdb")
    _, read = create_key(ws.store, "read", "r")
    with TestClient(create_app(ws)) as c:
        r = c.get("/v1/audiences/size", headers=_auth(read))
    ws.close()
    assert r.status_code == 409 and "empatia run" in r.json()["message"]
