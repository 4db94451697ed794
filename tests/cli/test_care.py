"""``empatia care …``, on the store and through a running server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from empatia import care
from empatia.cli import app as cli_app
from empatia.store import Store


def _world(db: Path, template: tuple[Path, object]) -> None:
    shutil.copy(template[0], db)
    with Store(db) as s:
        care.run_care(s.con, deliver=False)


def test_cli_list_show_ack_resolve_webhooks(tmp_path: Path, template: tuple[Path, object]) -> None:
    db = tmp_path / "cli.duckdb"
    _world(db, template)
    run = CliRunner(env={"COLUMNS": "300"}).invoke
    r = run(cli_app, ["--db", str(db), "care", "list"])
    assert r.exit_code == 0 and "musician" in r.output and "184k" in r.output
    r = run(cli_app, ["--db", str(db), "care", "show", "musician"])
    assert r.exit_code == 0 and "I will tell all my followers" in r.output
    r = run(cli_app, ["--db", str(db), "care", "show", "musician", "--redact"])
    assert r.exit_code == 0 and "I will tell all my followers" not in r.output
    r = run(cli_app, ["--db", str(db), "care", "ack", "musician", "--note", "calling"])
    assert r.exit_code == 0 and "acknowledged" in r.output
    r = run(cli_app, ["--db", str(db), "care", "list", "--alerts"])
    assert "acknowledged" in r.output
    r = run(cli_app, ["--db", str(db), "care", "resolve", "musician", "--note", "fixed"])
    assert r.exit_code == 0
    r = run(cli_app, ["--db", str(db), "care", "webhooks", "add", "http://127.0.0.1:9/h"])
    assert r.exit_code == 0 and "whsec_" in r.output
    r = run(cli_app, ["--db", str(db), "care", "webhooks", "list"])
    assert "127.0.0.1:9" in r.output
    r = run(cli_app, ["--db", str(db), "care", "list", "--json"])
    assert r.exit_code == 0 and "musician" not in r.output  # resolved: off the list


@pytest.mark.slow
def test_cli_goes_through_the_running_server(tmp_path: Path, template: tuple[Path, object]) -> None:
    from tests.conftest import ServerProcess

    db = tmp_path / "served.duckdb"
    _world(db, template)
    srv = ServerProcess(db).start()
    try:
        run = CliRunner(env={"COLUMNS": "300"}).invoke
        r = run(cli_app, ["--db", str(db), "care", "list"])
        assert r.exit_code == 0, r.output
        assert "musician" in r.output
        r = run(cli_app, ["--db", str(db), "care", "ack", "musician", "--note", "on it"])
        assert r.exit_code == 0 and "acknowledged" in r.output
        r = run(cli_app, ["--db", str(db), "care", "show", "musician"])
        assert "acknowledged" in r.output and "I will tell all my followers" in r.output
    finally:
        srv.stop()
