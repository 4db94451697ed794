"""Finding #9 of issue #13: one table of what each use needs, enforced where the data is used.

Withdrawing ``profiling`` takes a person out of audiences chosen by predicted behaviour (and
their export) and out of partner exports' reach stays with ``partner_sharing``; an unknown
purpose or use is refused with the valid ones, never read as ``marketing_email``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.errors import ConsentError, ValidationError
from empatia.privacy import record
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace

from .conftest import ALA, BOB


def person(ws: Workspace, user_id: str) -> str:
    row = ws.store.con.execute(
        "select person_id from identities where kind = 'user_id' and value = ?", [user_id]
    ).fetchone()
    assert row
    return str(row[0])


@pytest.fixture
def web(world: Workspace) -> Iterator[tuple[TestClient, Workspace]]:
    _, admin = create_key(world.store, "admin")
    with TestClient(create_app(world)) as c:
        c.headers["Authorization"] = f"Bearer {admin}"
        yield c, world


def _size(c: TestClient, **q: str) -> int:
    import re

    r = c.get("/audiences/size", params=q)
    assert r.status_code == 200, r.text
    found = re.search(r'class="size">([\d,]+)', r.text)
    assert found, r.text
    return int(found.group(1).replace(",", ""))


def _export(c: TestClient, **q: str) -> list[str]:
    r = c.get("/audiences/export.csv", params=q)
    assert r.status_code == 200, r.text
    return [row["person_id"] for row in csv.DictReader(io.StringIO(r.text))]


def test_withdrawing_profiling_leaves_min_p_alive_audiences_and_their_export(
    web: tuple[TestClient, Workspace],
) -> None:
    c, ws = web
    ala = person(ws, ALA["user_id"])
    ws.store.con.execute("update profiles set p_alive = 0.9")  # two people are too few to fit
    q = {"min_p_alive": "0.5", "purpose": "marketing_email"}
    assert _size(c, **q) >= 1 and ala in _export(c, **q)
    record(ws.store, ala, "profiling", False, source="test")
    assert ala not in _export(c, **q)
    assert _size(c, **q) == 0  # Bob never agreed to profiling either


def test_unknown_purpose_is_a_clear_400_not_marketing_email(
    web: tuple[TestClient, Workspace],
) -> None:
    c, _ = web
    for path in ("/audiences/size", "/audiences/export.csv"):
        r = c.get(path, params={"purpose": "selling"})
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["code"] == "invalid" and "marketing_email" in body["message"]
    r = c.post("/v1/consent/p_1", json={"purpose": "selling", "granted": True})
    assert r.status_code == 400 and "partner_sharing" in r.json()["message"]


def test_unknown_purpose_on_the_cli_is_one_line(world: Workspace) -> None:
    import os
    import subprocess
    import sys

    db = str(world.settings.db)
    world.close()
    p = subprocess.run([sys.executable, "-m", "empatia.cli", "--db", db, "consent", "set", "p_1",
                        "selling"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "COLUMNS": "400"})  # fmt: skip
    lines = [ln for ln in (p.stderr + p.stdout).splitlines() if ln.strip()]
    assert p.returncode == 2 and len(lines) == 1, lines
    assert "partner_sharing" in lines[0] and "Traceback" not in p.stderr


def test_the_table_names_every_use_and_refuses_others(world: Workspace) -> None:
    from empatia.privacy import USES, allowed

    assert {"personal_offer", "audience", "partner_export", "survey", "question",
            "care_contact"} <= set(USES)  # fmt: skip
    with pytest.raises(ValidationError, match="personal_offer"):
        allowed(world.store, "p_1", "spam")
    ala, bob = person(world, ALA["user_id"]), person(world, BOB["user_id"])
    assert allowed(world.store, ala, "partner_export") == (True, "consent for partner_sharing")
    assert allowed(world.store, bob, "partner_export") == (False, "no consent for partner_sharing")
    assert allowed(world.store, bob, "care_contact")[0]  # legitimate interest …
    record(world.store, bob, "care", False, source="test")
    assert allowed(world.store, bob, "care_contact") == (False, "no consent for care")  # … objected


def test_a_partner_contract_may_add_a_purpose_but_not_drop_partner_sharing(
    world: Workspace, tmp_path: Path
) -> None:
    from empatia.errors import ConfigError
    from empatia.privacy.partner_export import Contract, export_partner

    ala = person(world, ALA["user_id"])
    c = tmp_path / "sms.toml"
    c.write_text('name = "sms-partner"\nfields = ["person_id"]\npurpose = "marketing_sms"\n')
    contract = Contract.load(c)
    assert export_partner(world.store, contract, tmp_path / "a.csv", fmt="csv").rows == 0
    record(world.store, ala, "marketing_sms", True, source="test")  # Ala also shares already
    assert export_partner(world.store, contract, tmp_path / "b.csv", fmt="csv").rows == 1
    c.write_text('name = "x"\nfields = ["person_id"]\npurpose = "selling"\n')
    with pytest.raises(ConfigError, match="partner_sharing"):
        Contract.load(c)


def test_a_person_who_objected_to_care_contact_is_not_listed(tmp_path: Path) -> None:
    from empatia.care.build import run_care
    from empatia.care.views import care_list
    from empatia.store import Store
    from tests.care.world import build

    with Store(tmp_path / "care.duckdb") as s:
        build(s)
        run_care(s.con, deliver=False)
        listed = [r["person_id"] for r in care_list(s.con)]
        assert listed
        record(s, listed[0], "care", False, source="api")  # the person objected
        figures = run_care(s.con, deliver=False)
        assert listed[0] not in {r["person_id"] for r in care_list(s.con)}
        assert figures["excluded_by_consent"] == 1
        s.con.execute("drop view consent_current")  # consent unknown: the run stops, loudly
        with pytest.raises(ConsentError, match="consent could not be checked"):
            run_care(s.con, deliver=False)
        assert listed[0] not in {r["person_id"] for r in care_list(s.con)}  # nothing half-done
