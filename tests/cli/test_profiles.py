"""``empatia profile``, ``empatia identity …`` and ``empatia rates …``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from empatia.cli import app
from empatia.pipeline import RunContext, run_pipeline
from empatia.profiles.api import get_profile
from empatia.workspace import Workspace
from tests.profiles.conftest import OPTIONS


def test_cli_profile_and_identity_commands(shop_ws: Workspace) -> None:
    db = str(shop_ws.settings.db)
    shop_ws.close()
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


def test_cli_rates_import_list_and_a_profile_in_the_reporting_currency(
    shop_ws: Workspace, tmp_path: Path
) -> None:
    db = str(shop_ws.settings.db)
    shop_ws.close()
    runner = CliRunner()
    r = runner.invoke(app, ["--db", db, "rates", "list"])
    assert r.exit_code == 0 and "no rates" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("date,currency,rate\n2026-01-01,PLN,four\n")
    r = runner.invoke(app, ["--db", db, "rates", "import", str(bad)])
    assert r.exit_code != 0 and "line 2: rate 'four' is not a number" in str(r.exception)
    good = tmp_path / "rates.csv"
    good.write_text("date,currency,rate\n2025-12-01,PLN,4.0\n2026-02-01,PLN,5.0\n")
    r = runner.invoke(app, ["--db", db, "rates", "import", str(good)])
    assert r.exit_code == 0, r.output
    assert "2 rates per 1 EUR for PLN, 2025-12-01 to 2026-02-01" in " ".join(r.output.split())
    r = runner.invoke(app, ["--db", db, "rates", "list"])
    assert "PLN" in r.output and "2026-02-01" in r.output and "5" in r.output
    with Workspace(db=db) as w:
        run_pipeline(RunContext(w, settings=OPTIONS), only=["identity", "profiles"])
        p = get_profile(w, "u3")["profile"]
    # u3's 4 orders (in January 2026) convert at 4.0 PLN per EUR
    assert p["currency"] == "EUR" and p["revenue"] == round(p["revenue_by_currency"]["PLN"] / 4, 2)
    r = runner.invoke(app, ["--db", db, "profile", "u3"])
    assert f"{p['revenue']} EUR" in r.output
