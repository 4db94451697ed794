"""``empatia demo`` builds, imports through the batch importer and hands over to the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from empatia.cli import app
from empatia.store import Store


def test_demo_builds_imports_and_runs_the_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ran = []
    monkeypatch.setattr("empatia.cli.demo._run_pipeline", lambda ws: ran.append(ws))
    db, out = tmp_path / "demo.duckdb", tmp_path / "world"
    r = CliRunner().invoke(
        app, ["demo", "--customers", "300", "--seed", "5", "--db", str(db), "--out", str(out),
              "--no-serve"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "World of 300 customers" in r.output and "0 rejected" in r.output
    assert ran, "the pipeline was not started"
    assert (out / "demo_truth_people.parquet").exists()
    with Store(db) as s:
        n = s.con.execute("select count(*) from events").fetchone()[0]
        tables = {t for (t,) in s.con.execute("show tables").fetchall()}
    assert n > 3000
    assert not any(t.startswith("demo_truth") for t in tables)  # the truth stays outside
