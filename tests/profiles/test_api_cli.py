from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from empatia.cli import app
from empatia.errors import NotFoundError, ValidationError
from empatia.pipeline import RunContext, run_pipeline
from empatia.profiles.api import get_profile
from empatia.workspace import Workspace
from tests.identity.world import add_events, ev
from tests.profiles.world import shop_events

OPTIONS = {"identity": {"probabilistic": False, "default_region": "PL"}}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(db=tmp_path / "p.duckdb")
    add_events(w.store, shop_events(n_people=25))
    add_events(w.store, [ev("identify", user="x1", traits={"email": "shared@x.com"}),
                         ev("identify", user="shared@x.com")])  # fmt: skip
    run_pipeline(RunContext(w, options=OPTIONS), only=["identity", "profiles"])
    return w


def test_any_identifier_finds_the_profile(ws: Workspace) -> None:
    by_email = get_profile(ws, "email: P3@Shop.com ")
    assert get_profile(ws, "u3")["person_id"] == by_email["person_id"]
    assert get_profile(ws, "phone:+48 22 555 03 03")["person_id"] == by_email["person_id"]
    assert get_profile(ws, by_email["person_id"])["profile"]["orders"] == 4
    assert {"kind": "user_id", "value": "u3"} in by_email["identifiers"]
    sources = {t["trait"]: t["source"] for t in by_email["traits"]}
    assert sources["first_name"] == "crm" and sources["email"] == "web"
    with pytest.raises(NotFoundError):
        get_profile(ws, "nobody@x.com")
    with pytest.raises(ValidationError):
        get_profile(ws, "shared@x.com")  # an email of one person, the user id of another
    ws.close()


def test_cli_profile_and_identity_commands(ws: Workspace) -> None:
    db = str(ws.settings.db)
    ws.close()
    runner = CliRunner()
    r = runner.invoke(app, ["--db", db, "profile", "email:p3@shop.com"])
    assert r.exit_code == 0, r.output
    assert "cadence_days" in r.output and "crm" in r.output
    r = runner.invoke(app, ["--db", db, "profile", "u3", "--json"])
    assert r.exit_code == 0 and '"orders": 4' in r.output
    for cmd in (["identity", "history"], ["identity", "review"], ["identity", "blocked"]):
        r = runner.invoke(app, ["--db", db, *cmd])
        assert r.exit_code == 0, (cmd, r.output)
    r = runner.invoke(app, ["--db", db, "identity", "split", "user_id:u3"])
    assert r.exit_code == 0, r.output
