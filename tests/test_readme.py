"""The README opens with the two commands, and every command and HTTP route it names exists.

Commands come from its code blocks (``empatia …`` lines), from backticked ``empatia …`` spans
in the prose and from the "commands" column of its table (``care list/show/ack``: each one);
every option it shows must be an option of that command. Routes are the backticked paths
(``GET /v1/profiles/{id}``, ``/v1/emotion/…`` for any route under it, ``/v1/i|t|p``) and
are compared with the app's routes, path parameters included.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from empatia.api.app import create_app
from empatia.api.routes.ingest import PATHS as TRACKING_PATHS
from empatia.cli import app
from empatia.workspace import Workspace

README = (Path(__file__).parent.parent / "README.md").read_text()
SPANS = re.findall(r"`([^`\n]+)`", README)


def test_readme_opens_with_the_main_job_and_the_tests() -> None:
    first_block = README.split("```")[1].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["make demo", "make test"]


# -- commands ----------------------------------------------------------------------------------
def _table_column(name: str) -> list[str]:
    """The cells of column ``name`` in the README's tables that have one."""
    cells: list[str] = []
    for table in re.findall(r"(?:^\|.*\|\n)+", README, flags=re.M):
        rows = [[c.strip() for c in r.strip().strip("|").split("|")] for r in table.splitlines()]
        if name in rows[0]:
            i = rows[0].index(name)
            cells += [r[i] for r in rows[2:] if len(r) > i]
    return cells


def _invocations() -> list[str]:
    """Every way the README invokes the CLI, without the leading ``empatia``."""
    found = [line.split("#")[0].strip()[len("empatia "):]
             for block in re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)
             for line in block.splitlines() if line.startswith("empatia ")]  # fmt: skip
    found += [s[len("empatia "):] for s in SPANS if s.startswith("empatia ")]
    for cell in _table_column("commands"):
        found += [s for s in re.findall(r"`([^`]+)`", cell) if not s.startswith("/")]
    return found


def _commands() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(command words, options shown) for each command the README names."""
    out = set()
    for inv in _invocations():
        words = inv.split()
        opts = tuple(w for w in words if w.startswith("--"))
        named = len(words) > 1 and re.fullmatch(r"[a-z][a-z-]*(/[a-z][a-z-]*)*", words[1])
        subs = words[1].split("/") if named else [""]
        for sub in subs:
            out.add(((words[0], sub) if sub else (words[0],), opts))
    return sorted(out)


def _click_command(words: tuple[str, ...]) -> tuple[Any, list[str]]:
    """The click command the words name, and the words that name it (the rest are arguments)."""
    cmd: Any = typer.main.get_command(app)
    used: list[str] = []
    for w in words:
        if not hasattr(cmd, "commands"):
            break  # an argument (``import events.jsonl``)
        sub = cmd.commands.get(w)
        assert sub is not None, f"`empatia {' '.join([*used, w])}` is not a command"
        cmd, used = sub, [*used, w]
    return cmd, used


@pytest.mark.parametrize(("words", "options"), _commands(), ids=lambda v: " ".join(v) or "")
def test_every_command_in_the_readme_exists(words: tuple[str, ...], options: tuple[str, ...]) -> None:
    cmd, used = _click_command(words)
    r = CliRunner().invoke(app, [*used, "--help"])
    assert r.exit_code == 0, r.output
    known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    assert set(options) <= known, f"`empatia {' '.join(used)}` has no {set(options) - known}"


def test_the_readme_names_the_commands_of_its_table() -> None:
    """The test cannot go quiet: the table's cells and the code blocks are found."""
    names = {w for w, _ in _commands()}
    assert {("care", "resolve"), ("identity", "unmerge"), ("emotion", "themes-set"),
            ("keys", "rotate"), ("run",), ("demo",)} <= names  # fmt: skip


# -- routes ------------------------------------------------------------------------------------
def _routes() -> list[tuple[str | None, str]]:
    """(method or None, path) for every route the README names; a path ending in ``…`` is a
    prefix; ``a|b`` in the last segment names several."""
    out = set()
    for span in SPANS:
        m = re.fullmatch(r"(?:(GET|POST|PUT|PATCH|DELETE) )?(/[^\s?]*)(?:\?\S*)?", span)
        if not m:
            continue
        method, path = m.groups()
        head, _, last = path.rpartition("/")
        for alt in last.split("|"):
            out.add((method, f"{head}/{alt}"))
    return sorted(out, key=lambda r: (r[1], r[0] or ""))


def _walk(routes: list[Any]) -> list[tuple[set[str], str]]:
    out = []
    for r in routes:
        inner = getattr(getattr(r, "original_router", None), "routes", None)
        if inner is not None:
            out += _walk(inner)
        elif getattr(r, "path", None) is not None:
            out.append((set(getattr(r, "methods", None) or {"GET"}), r.path))
    return out


APP_ROUTES = _walk(create_app(Workspace(db=":memory:")).routes) + [
    ({"POST"}, p) for p in TRACKING_PATHS  # answered before routing (empatia.api.routes.ingest)
]


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


@pytest.mark.parametrize(("method", "path"), _routes(), ids=lambda v: v or "")
def test_every_route_in_the_readme_exists(method: str | None, path: str) -> None:
    if path.endswith("…"):
        matches = [(ms, p) for ms, p in APP_ROUTES if p.startswith(path[:-1]) and p != path[:-1]]
    else:
        matches = [(ms, p) for ms, p in APP_ROUTES if _shape(p) == _shape(path)]
    assert matches, f"no route {path}"
    if method:
        assert any(method in ms for ms, _ in matches), f"{path} does not answer {method}"


def test_the_readme_names_the_routes_of_its_table() -> None:
    paths = {p for _, p in _routes()}
    assert {"/v1/profiles/{id}", "/v1/emotion/…", "/v1/decisions/{id}", "/v1/a", "/"} <= paths
