"""Every command has help with an example; init creates a key; keys are stored hashed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from empatia.cli import app
from empatia.store import Store

runner = CliRunner()


def _commands() -> list[list[str]]:
    """Every leaf command, however deeply nested in groups."""
    import typer.main

    def walk(cmd: object, path: list[str]) -> list[list[str]]:
        subs = getattr(cmd, "commands", None)
        if not subs:
            return [path]
        return [leaf for name, sub in subs.items() for leaf in walk(sub, [*path, name])]

    return walk(typer.main.get_command(app), [])


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_explains_itself_with_an_example(command: list[str]) -> None:
    r = runner.invoke(app, [*command, "--help"])
    assert r.exit_code == 0, r.output
    assert "Example" in r.output or "example" in r.output


def test_init_and_keys_lifecycle(db_path: Path) -> None:
    r = runner.invoke(app, ["--db", str(db_path), "init"])
    assert r.exit_code == 0 and "Write key" in r.output
    secret = r.output.split("Write key")[1].split(":")[1].split()[0]
    r = runner.invoke(app, ["--db", str(db_path), "keys", "create", "--scope", "read", "--name", "bi"])
    assert r.exit_code == 0 and "read key" in r.output
    r = runner.invoke(app, ["--db", str(db_path), "keys", "create", "--scope", "root"])
    assert r.exit_code != 0
    r = runner.invoke(app, ["--db", str(db_path), "keys", "list"])
    assert "bi" in r.output and secret not in r.output
    with Store(db_path) as s:
        stored = [h for (h,) in s.con.execute("select secret_hash from api_keys").fetchall()]
    assert secret not in stored and len(stored) == 2
    key_id = r.output.split("k_")[1][:8]
    r = runner.invoke(app, ["--db", str(db_path), "keys", "revoke", "k_" + key_id])
    assert r.exit_code == 0


def test_errors_are_friendly_without_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "x.xml"
    bad.write_text("<x/>")
    p = subprocess.run([sys.executable, "-m", "empatia.cli", "--db", str(tmp_path / "d.duckdb"),
                        "import", str(bad)], capture_output=True, text=True)  # fmt: skip
    assert p.returncode == 2
    assert "unknown file type" in p.stderr + p.stdout and "Traceback" not in p.stderr
