"""Every command has help with an example; init creates a key; keys are stored hashed."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``empatia …`` as a user runs it: through ``main()``, in its own process."""
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "empatia.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["stats", "--bogus"], "No such option: --bogus"),
        (["profil"], "Did you mean 'profile'"),
        (["profile"], "Missing argument"),
        (["care", "list", "--limit", "many"], "Invalid value for '--limit'"),
        (["init", "--db", "x.duckdb"], "put it first, as in empatia --db PATH init"),
        (["run", "--engine", "spark", "--conf", "spark.executor.memory"], "expected KEY=VALUE"),
        (["run", "--master", "spark://h:7077"], "add --engine spark"),
    ],
    ids=["unknown option", "unknown command", "missing argument", "bad value", "global option late",
         "spark setting without a value", "spark master on duckdb"],
)
def test_a_usage_mistake_is_one_line_and_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    p = _cli(*args, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and says in p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and len(lines) <= 2, p.stderr
    assert not list(tmp_path.iterdir())  # nothing was created on the way


def test_typer_exit_codes_reach_the_shell(tmp_path: Path) -> None:
    """A command ending in ``typer.Exit(1)`` (here: rows rejected) exits 1, not 0."""
    bad = tmp_path / "events.jsonl"
    bad.write_text('{"type": "track"}\n')
    p = _cli("--db", str(tmp_path / "d.duckdb"), "import", str(bad))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stderr


def test_ctrl_c_exits_130_quietly(tmp_path: Path) -> None:
    """Ctrl+C in a long command: exit 130, one short line, no traceback, no DuckDB leak report."""
    env = dict(os.environ, COLUMNS="200")
    # started as from a terminal: a pytest-xdist worker was seen holding SIGINT ignored, which a
    # child inherits (then no KeyboardInterrupt ever comes: the demo ran to its end)
    terminal = ("import runpy, signal, sys;"
                " signal.signal(signal.SIGINT, signal.default_int_handler);"
                " signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT});"
                " sys.argv[0] = 'empatia'; runpy.run_module('empatia.cli', run_name='__main__')")
    proc = subprocess.Popen(
        [sys.executable, "-c", terminal, "--db", str(tmp_path / "d.duckdb"), "demo",
         "--customers", "300", "--no-serve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # interrupt it in the pipeline, holding DuckDB connections
        if "stage " in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "nanobind" not in err and "leaked" not in err


def test_run_without_a_terminal_prints_a_line_per_stage(tmp_path: Path) -> None:
    """Output redirected (a log, CI): each stage says when it ends, how long it took and what
    it did, instead of nothing for minutes."""
    p = _cli("--db", str(tmp_path / "d.duckdb"), "run", "--only", "identity", "--only", "profiles")
    assert p.returncode == 0, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.startswith("stage ")]
    assert [line.split(":")[0] for line in lines] == ["stage identity", "stage profiles"], p.stderr
    assert all(re.match(r"stage \w+: \d+\.\d s", line) for line in lines), p.stderr
    assert "persons=0" in lines[0]


def test_a_stage_bar_shows_done_of_total_and_stops_its_timer() -> None:
    from empatia.cli.common import _StageBar, progress_bar
    from empatia.pipeline import StageResult

    bar = progress_bar()
    row = _StageBar(bar, "identity")
    row.total(2_000)
    row.advance(500)
    assert "500/2,000" in _render(bar)
    row.done(StageResult("identity", 1.0, {"persons": 1_234}))
    task = bar.tasks[row.task]
    assert task.finished and task.stop_time is not None
    elapsed = task.elapsed
    time.sleep(0.05)
    assert task.elapsed == elapsed  # the timer no longer runs
    assert "2,000/2,000" in _render(bar) and "persons=1,234" in _render(bar)


def _render(bar: Any) -> str:
    from rich.console import Console

    out = Console(file=io.StringIO(), width=160)
    out.print(bar.get_renderable())
    return str(out.file.getvalue())  # type: ignore[attr-defined]


def test_demo_help_and_its_check_name_the_same_limit(tmp_path: Path) -> None:
    from empatia.demo.world import build_world
    from empatia.errors import ConfigError

    helptext = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"}).output
    assert "100 to 10,000,000" in helptext
    with pytest.raises(ConfigError, match="10,000,000"):
        build_world(tmp_path, 10_000_001)
    p = _cli("demo", "--customers", "10000001", "--no-serve", cwd=tmp_path)
    assert p.returncode == 2 and "10000000" in p.stderr.replace(",", "")


def test_care_list_in_80_columns_keeps_whole_ids_and_says_open(db_path: Path) -> None:
    from empatia.workspace import Workspace

    with Workspace(db=db_path) as ws:
        ws.store.con.execute(
            "insert into care_list values (1, 'p_0123456789abcdef', 0.9, 0.8, 1.0, 0.72,"
            " 'Three complaints in a week about a late delivery, then silence.', '{}', 'new',"
            " 'al_0123456789ab', 10, now())"
        )
    r = runner.invoke(app, ["--db", str(db_path), "care", "list"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "p_0123456789abcdef" in r.output and "al_0123456789ab" in r.output
    assert "open" in r.output and " new " not in r.output
    r = runner.invoke(app, ["--db", str(db_path), "care", "list", "--status", "open"],
                      env={"COLUMNS": "80"})  # fmt: skip
    assert "p_0123456789abcdef" in r.output  # the web's word works as a filter too


def test_config_show_names_every_value_and_where_it_came_from(tmp_path: Path) -> None:
    """`empatia config show`: each effective setting with its source; a misspelt section in
    empatia.toml is a one-line error, not a setting quietly ignored."""
    import json

    (tmp_path / "empatia.toml").write_text("[stages.identity]\nmatch_threshold = 0.9\n"
                                           '[spark.conf]\n"spark.executor.memory" = "4g"\n')
    env = dict(os.environ, EMPATIA_STAGES__DECIDE__RETRAIN_DAYS="3")
    p = subprocess.run([sys.executable, "-m", "empatia.cli", "--db", "shop.duckdb", "config",
                        "show", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=120)  # fmt: skip
    assert p.returncode == 0, p.stderr
    rows = {r["key"]: (r["value"], r["source"]) for r in json.loads(p.stdout)}
    assert rows["db"] == ("shop.duckdb", "argument")
    assert rows["stages.decide.retrain_days"] == (3.0, "environment")
    assert rows["stages.identity.match_threshold"] == (0.9, "empatia.toml")
    assert rows["stages.care.risk.anger"] == (0.6, "default")
    assert rows["spark.conf.spark.executor.memory"] == ("4g", "empatia.toml")
    assert rows["spark.master"] == (None, "default")
    assert not (tmp_path / "shop.duckdb").exists()  # reads no store
    (tmp_path / "empatia.toml").write_text("[stages.identty]\nmatch_threshold = 0.9\n")
    p = _cli("config", "show", cwd=tmp_path)
    assert p.returncode == 2 and "stages.identty: Extra inputs are not permitted" in p.stderr
    assert "Traceback" not in p.stderr
