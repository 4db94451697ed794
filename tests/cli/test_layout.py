"""The commands live in ``empatia.cli``; the library never imports the CLI toolkit (#16)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import empatia

STAGES = ("identity", "profiles", "emotion", "experience", "journeys", "care", "decide",
          "privacy", "demo")  # fmt: skip
LIBRARY = ("empatia", "empatia.workspace", "empatia.pipeline", *(f"empatia.{s}" for s in STAGES))
SRC = Path(empatia.__file__).parent


@pytest.mark.parametrize("module", LIBRARY)
def test_importing_the_library_loads_no_cli_toolkit(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('typer', 'empatia.cli') if m in sys.modules))")  # fmt: skip
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", f"{module} loads {p.stdout.strip()}"


@pytest.mark.parametrize("stage", STAGES)
def test_no_stage_folder_holds_or_imports_commands(stage: str) -> None:
    folder = SRC / stage
    assert not (folder / "cli.py").exists(), f"{stage}'s commands belong in empatia/cli/{stage}.py"
    cli_import = re.compile(r"^\s*(import typer|from typer|from empatia\.cli\b|import empatia\.cli\b)",
                            re.MULTILINE)  # fmt: skip
    found = [str(f.relative_to(SRC)) for f in folder.rglob("*.py") if cli_import.search(f.read_text())]
    assert not found, f"the library imports the CLI in {found}"


def test_every_stage_has_its_command_module() -> None:
    from empatia.cli.root import COMMAND_MODULES

    assert {m.rsplit(".", 1)[1] for m in COMMAND_MODULES} == set(STAGES)
    assert all((SRC / "cli" / f"{s}.py").exists() for s in STAGES)


def test_starting_the_cli_loads_no_dataframe_machinery() -> None:
    # `empatia --help` and every command's start: the settings tree imports each stage's
    # settings, which must not pull Ibis or pandas (0.94 s and 164 MB before, 0.49 s and 111 MB)
    code = ("import sys, empatia.cli; "
            "print(sorted(m for m in ('ibis', 'pandas', 'sqlglot') if m in sys.modules))")  # fmt: skip
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", f"empatia.cli loads {p.stdout.strip()}"
