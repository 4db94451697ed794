"""The README opens with the two commands, and every command it shows exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from empatia.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_opens_with_the_main_job_and_the_tests() -> None:
    first_block = README.split("```")[1].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["make demo", "make test"]


def _shown_commands() -> list[list[str]]:
    found = set()
    for line in re.findall(r"^empatia [a-z-]+(?: [a-z-]+)?", README, flags=re.M):
        found.add(tuple(w for w in line.split()[1:]))
    return [list(c) for c in sorted(found)]


@pytest.mark.parametrize("command", _shown_commands(), ids=" ".join)
def test_every_command_in_the_readme_exists(command: list[str]) -> None:
    words = [w for w in command if not w.startswith("-")]
    r = CliRunner().invoke(app, [*words[:2], "--help"])
    if r.exit_code != 0:  # "empatia import events.jsonl": the second word is an argument
        r = CliRunner().invoke(app, [words[0], "--help"])
    assert r.exit_code == 0, r.output
