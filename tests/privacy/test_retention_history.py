"""Imported history is never deleted silently (issue #14, finding 3).

Import says how many events fall outside retention and what the next run does with them;
the run says what retention deleted, per table; the workspace's own settings can keep them;
``empatia retention --dry-run`` lists exactly what the run will delete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from empatia.api.app import create_app
from empatia.cli import app
from empatia.errors import ConfigError
from empatia.ingest import import_files
from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy import retention
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace

from .conftest import write_jsonl

TEN_YEARS = '[stages.privacy.retention]\nevents = "10 years"\n'


def history(n_old: int = 3, n_new: int = 2, tag: str = "h") -> list[dict[str, object]]:
    """``n_old`` events 30 months old (outside the default 25 months) and ``n_new`` recent."""
    now = datetime.now(UTC)
    old = now - timedelta(days=915)
    return [
        {"type": "track", "userId": f"u-{tag}{i}", "event": "Order Completed",
         "messageId": f"{tag}-old-{i}", "timestamp": (old + timedelta(hours=i)).isoformat(),
         "properties": {"order_id": f"{tag}o{i}"}}
        for i in range(n_old)
    ] + [
        {"type": "track", "userId": f"u-{tag}{i}", "event": "Order Completed",
         "messageId": f"{tag}-new-{i}", "timestamp": (now - timedelta(days=3 + i)).isoformat(),
         "properties": {"order_id": f"{tag}n{i}"}}
        for i in range(n_new)
    ]  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A workspace folder as the working directory (where ``empatia.toml`` is read)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMPATIA_DB", raising=False)
    yield tmp_path


def count(ws: Workspace, where: str = "true") -> int:
    return int(ws.store.con.execute(f"select count(*) from events where {where}").fetchone()[0])  # type: ignore[index]  # noqa: E501


def privacy_figures(ws: Workspace) -> dict[str, object]:
    (res,) = run_pipeline(RunContext(ws), only=["privacy"])
    return res.figures


def test_import_of_old_history_says_how_many_events_the_next_run_deletes(folder: Path) -> None:
    with Workspace(db=folder / "w.duckdb") as ws:
        rep = import_files(ws.store, [write_jsonl(folder / "h.jsonl", history())])
        assert rep.accepted == 5
        assert rep.outside_retention == 3 and rep.files[0].outside_retention == 3
        assert rep.retention_notice is not None
        assert "3 events are older than the retention period for events (25 months)" in rep.retention_notice
        assert "the next `empatia run` deletes them" in rep.retention_notice
        assert '[stages.privacy.retention] events = "10 years"' in rep.retention_notice
        # Importing the same file again stores nothing, so it warns of nothing new.
        again = import_files(ws.store, [folder / "h.jsonl"])
        assert again.outside_retention == 0 and again.retention_notice is None


def test_cli_import_prints_the_notice(folder: Path) -> None:
    write_jsonl(folder / "h.jsonl", history())
    out = CliRunner().invoke(app, ["--db", str(folder / "w.duckdb"), "import", "h.jsonl"])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())  # Rich wraps long lines
    assert "3 events are older than the retention period for events (25 months)" in text
    assert "[stages.privacy.retention]" in text  # printed as text, not eaten as markup


def test_recent_history_imports_without_a_notice(folder: Path) -> None:
    with Workspace(db=folder / "w.duckdb") as ws:
        rep = import_files(ws.store, [write_jsonl(folder / "h.jsonl", history(n_old=0))])
        assert rep.outside_retention == 0 and rep.retention_notice is None


def test_run_reports_what_retention_deleted_per_table(folder: Path) -> None:
    with Workspace(db=folder / "w.duckdb") as ws:
        import_files(ws.store, [write_jsonl(folder / "h.jsonl", history())])
        figures = privacy_figures(ws)
        assert figures["retention_deleted"] == {"events": 3}
        assert count(ws) == 2
        assert privacy_figures(ws)["retention_deleted"] == {}  # nothing left to delete


def test_cli_run_summary_names_the_deleted_rows(folder: Path) -> None:
    write_jsonl(folder / "h.jsonl", history())
    r = CliRunner()
    assert r.invoke(app, ["--db", "w.duckdb", "import", "h.jsonl"]).exit_code == 0
    out = r.invoke(app, ["--db", "w.duckdb", "run", "--only", "privacy"])
    assert out.exit_code == 0, out.output
    summary = "".join(out.output.split()).replace("│", "")  # Rich wraps the figures column
    assert re.search(r"retention_deleted=\W*events\W*3\b", summary), out.output


def test_workspace_setting_of_ten_years_keeps_the_history(folder: Path) -> None:
    (folder / "empatia.toml").write_text(TEN_YEARS)
    write_jsonl(folder / "h.jsonl", history())
    r = CliRunner()
    out = r.invoke(app, ["--db", "w.duckdb", "import", "h.jsonl"])
    assert out.exit_code == 0, out.output
    assert "retention" not in out.output  # nothing falls outside ten years
    out = r.invoke(app, ["--db", "w.duckdb", "retention", "--dry-run"])
    assert out.exit_code == 0 and "10 years" in out.output, out.output
    with Workspace(db=folder / "w.duckdb") as ws:
        assert privacy_figures(ws)["retention_deleted"] == {}
        assert count(ws) == 5
        keep = {p.table: p.keep for p in retention.for_settings(ws.settings)}
        assert keep["events"] == "10 years" and keep["consent_ledger"] == "6 years"


def test_workspace_setting_that_is_not_a_duration_is_refused(folder: Path) -> None:
    (folder / "empatia.toml").write_text('[stages.privacy.retention]\nevents = "forever"\n')
    with Workspace(db=folder / "w.duckdb") as ws, pytest.raises(ConfigError, match="25 months"):
        privacy_figures(ws)
    (folder / "empatia.toml").write_text('[stages.privacy.retention]\nnot_a_table = "1 year"\n')
    with Workspace(db=folder / "w.duckdb") as ws, pytest.raises(ConfigError, match="column"):
        retention.for_settings(ws.settings)


def test_dry_run_lists_them_without_deleting_and_the_run_agrees(folder: Path) -> None:
    write_jsonl(folder / "h.jsonl", history())
    r = CliRunner()
    assert r.invoke(app, ["--db", "w.duckdb", "import", "h.jsonl"]).exit_code == 0
    out = r.invoke(app, ["--db", "w.duckdb", "retention", "--dry-run"])
    assert out.exit_code == 0, out.output
    line = next(ln for ln in out.output.splitlines() if "events" in ln)
    assert "25 months" in line and " 3 " in line
    with Workspace(db=folder / "w.duckdb") as ws:
        assert count(ws) == 5  # the dry run deleted nothing
        dry = {r.table: r.rows for r in retention.apply(ws.store, retention.for_settings(ws.settings), dry_run=True)}  # noqa: E501
        assert privacy_figures(ws)["retention_deleted"] == {t: n for t, n in dry.items() if n}


def test_events_sent_through_the_api_are_announced_by_one_run_before_they_go(folder: Path) -> None:
    """Tracking answers 200 with no report; the run that first sees such old events keeps
    them and says so, and the next run deletes them."""
    ws = Workspace(db=folder / "w.duckdb")
    _, secret = create_key(ws.store, "write", "site")
    with TestClient(create_app(ws)) as c:
        resp = c.post("/v1/batch", json={"batch": history(tag="api")}, auth=(secret, ""))
        assert resp.status_code == 200, resp.text
    assert count(ws) == 5
    dry = {r.table: r for r in retention.apply(ws.store, retention.for_settings(ws.settings), dry_run=True)}  # noqa: E501
    assert dry["events"].rows == 0 and dry["events"].held == 3
    first = privacy_figures(ws)
    assert first["retention_deleted"] == {} and first["retention_held"] == 3
    assert count(ws) == 5
    second = privacy_figures(ws)
    deleted = second["retention_deleted"]
    assert deleted["events"] == 3 and "retention_held" not in second
    # and the rows derived from them (the live stitcher may have linked them already)
    assert all(n == 3 and ws.store.con.execute(
        "select count(*) from information_schema.columns where table_name = ? and column_name = 'seq'",
        [t]).fetchone()[0] for t, n in deleted.items())  # fmt: skip
    assert count(ws) == 2
    ws.close()


def test_admin_import_reports_outside_retention(folder: Path) -> None:
    ws = Workspace(db=folder / "w.duckdb")
    _, secret = create_key(ws.store, "admin", "ops")
    write_jsonl(folder / "h.jsonl", history())
    with TestClient(create_app(ws)) as c:
        resp = c.post("/admin/import", json={"paths": [str(folder / "h.jsonl")]},
                      headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["files"][0]["outside_retention"] == 3
    assert "3 events are older than the retention period" in body["retention_notice"]
    ws.close()



def test_through_the_running_server_import_and_dry_run_say_the_same(folder: Path) -> None:
    from tests.conftest import ServerProcess

    write_jsonl(folder / "h.jsonl", history())
    r = CliRunner()
    assert r.invoke(app, ["--db", "w.duckdb", "init"]).exit_code == 0
    srv = ServerProcess(folder / "w.duckdb").start(timeout=120)  # a busy CI machine
    try:
        out = r.invoke(app, ["--db", "w.duckdb", "import", "h.jsonl"])
        assert out.exit_code == 0, out.output
        assert "through it" in out.output  # the server owned the store
        assert "3 events are older than the retention period" in " ".join(out.output.split())
        out = r.invoke(app, ["--db", "w.duckdb", "retention", "--dry-run"])
        assert out.exit_code == 0, out.output
        line = next(ln for ln in out.output.splitlines() if "events" in ln)
        assert "25 months" in line and " 3 " in line
        out = r.invoke(app, ["--db", "w.duckdb", "retention", "--dry-run", "--policies", "x.toml"])
        assert out.exit_code != 0 and "--policies" in str(out.exception or out.output)
    finally:
        srv.stop()
