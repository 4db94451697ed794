"""``empatia experience …`` and ``empatia journeys …`` tables over the experience world."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from empatia import journeys
from empatia.cli import app as cli_app
from empatia.workspace import Workspace


def test_cli_tables(ews: Workspace) -> None:
    db = str(ews.settings.db)
    ews.store.checkpoint()
    ews.close()
    run = CliRunner()
    out = run.invoke(cli_app, ["--db", db, "experience", "hurt"], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert "traveller" in out.output and "Seven calls" in out.output
    assert "7 contacts" in out.output
    out = run.invoke(cli_app, ["--db", db, "experience", "scores", "--survey", "nps"])
    assert out.exit_code == 0 and "NPS" in out.output and "8.3" in out.output
    out = run.invoke(cli_app, ["--db", db, "experience", "excluded"], env={"COLUMNS": "250"})
    assert "duplicate_text" in out.output
    out = run.invoke(
        cli_app, ["--db", db, "experience", "hurt", "--orders"], env={"COLUMNS": "250"}
    )
    assert out.exit_code == 0 and "O77" in out.output and "Arrived broken" in out.output
    for cmd in (["experience", "effort"], ["experience", "touchpoints"], ["experience", "gap"], ["experience", "person", "traveller"],
                ["experience", "may-survey", "traveller"], ["journeys", "map"],
                ["journeys", "paths", "Case Opened"],
                ["journeys", "funnel", "Case Opened", "Support Contact", "Case Resolved", "--by", "channel"]):  # fmt: skip
        out = run.invoke(cli_app, ["--db", db, *cmd])
        assert out.exit_code == 0, (cmd, out.output)


def test_stage_map_can_be_changed_per_workspace(tmp_path: Path) -> None:
    db = tmp_path / "m.duckdb"
    r = CliRunner().invoke(
        cli_app, ["--db", str(db), "journeys", "stages", "set", "Trial Started", "consider"]
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli_app, ["--db", str(db), "journeys", "stages", "set", "X", "nowhere"])
    assert r.exit_code != 0
    ws = Workspace(db=db)
    assert journeys.load_stage_map(ws.store.con).stage_of("Trial Started") == "consider"
    ws.close()
