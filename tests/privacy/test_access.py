"""Right of access: everything about a person, nothing about anyone else."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from empatia.cli import app
from empatia.privacy.access import export_subject, write_zip
from empatia.privacy.audit import entries
from empatia.workspace import Workspace

from .conftest import ALA, BOB


def test_export_holds_the_person_across_tables(world: Workspace) -> None:
    data = export_subject(world.store, "email:" + ALA["email"].upper())
    assert data["person_id"].startswith("p_")
    assert {"events", "identities", "profiles", "profile_traits", "consent_events",
            "text_analysis", "event_persons"} <= set(data["tables"])  # fmt: skip
    assert len(data["tables"]["events"]) == 4
    assert {i["value"] for i in data["identifiers"]} >= {ALA["email"], ALA["user_id"], ALA["phone"]}
    assert data["consent"]["partner_sharing"]["granted"] is True
    text = json.dumps(data, default=str, ensure_ascii=False)
    assert ALA["text"] in text
    assert BOB["email"] not in text and BOB["text"] not in text
    assert entries(world.store)[0]["action"] == "export"
    assert ALA["email"] not in json.dumps(entries(world.store), default=str)


def test_zip_has_one_file_per_table(world: Workspace, tmp_path: Path) -> None:
    data = export_subject(world.store, ALA["user_id"])
    z = zipfile.ZipFile(write_zip(data, tmp_path / "a.zip"))
    assert "subject.json" in z.namelist() and "tables/events.json" in z.namelist()


def test_cli_export_erase_consent_audit(world: Workspace, tmp_path: Path) -> None:
    db = world.store.path
    world.close()
    r = CliRunner()
    out = r.invoke(app, ["--db", db, "subject", "export", ALA["user_id"], "--zip", str(tmp_path / "a.zip")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "a.zip").exists()
    out = r.invoke(app, ["--db", db, "consent", "show", "user_id:" + BOB["user_id"]])
    assert out.exit_code == 0 and "analytics" in out.output
    out = r.invoke(app, ["--db", db, "subject", "erase", ALA["user_id"], "--yes"])
    assert out.exit_code == 0, out.output
    assert "events" in out.output
    out = r.invoke(app, ["--db", db, "audit"])
    assert "erase" in out.output and "export" in out.output
    assert ALA["user_id"] not in out.output
    out = r.invoke(app, ["--db", db, "retention", "--dry-run"])
    assert out.exit_code == 0 and "25 months" in out.output
