"""The batch pipeline runner behind ``empatia run``.

A stage is an object with a ``name``, the ``after`` stages it needs, and ``run(ctx)``. Stages
register themselves in :data:`STAGES` (built-in ones the same way a plugin would, through
:func:`register_stage`); the runner orders them by ``after`` and runs each one, timing it.
Stages read and write tables in the store — never each other's internals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from empatia.errors import ConfigError

if TYPE_CHECKING:
    from empatia.workspace import Workspace


class Progress(Protocol):
    """What a stage may report: ``advance(n)`` and ``total(n)`` for its progress bar."""

    def total(self, n: int | None) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _NoProgress:
    def total(self, n: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass
class RunContext:
    """What a stage gets: the workspace, the engine, and a progress reporter."""

    workspace: Workspace
    engine: str = "duckdb"
    full: bool = False  # rebuild from scratch instead of incrementally
    progress: Progress = field(default_factory=_NoProgress)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Stage options from settings (``[stages]`` in empatia.toml); explicit ones win.
        self.options = {**self.workspace.settings.stages, **self.options}


class Stage(Protocol):
    name: str
    after: tuple[str, ...]

    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Do the stage's work; return a few figures for the summary (rows written, …)."""
        ...


STAGES: dict[str, Stage] = {}


def register_stage(stage: Stage) -> Stage:
    STAGES[stage.name] = stage
    return stage


def _load_builtin_stages() -> None:
    # Importing a stage package registers its stage(s). They are built in: a missing or broken
    # one is an error, never a stage quietly left out of the run.
    from empatia.plugins import import_builtins

    import_builtins((
        "empatia.identity.stage",
        "empatia.profiles.stage",
        "empatia.emotion.stage",
        "empatia.experience.stage",
        "empatia.journeys.stage",
        "empatia.care.stage",
        "empatia.decide.stage",
        "empatia.privacy.stage",
    ))


def ordered_stages(only: Iterable[str] | None = None) -> list[Stage]:
    """Stages in dependency order (``after`` first), optionally only the named ones."""
    _load_builtin_stages()
    wanted = set(only) if only else set(STAGES)
    unknown = wanted - set(STAGES)
    if unknown:
        raise ConfigError(
            f"unknown stage(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(STAGES))}"
        )
    order: list[Stage] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in seen or name not in STAGES:
            return
        if name in path:
            raise ConfigError(f"stage dependency cycle: {' -> '.join(path + (name,))}")
        for dep in STAGES[name].after:
            visit(dep, path + (name,))
        seen.add(name)
        if name in wanted:
            order.append(STAGES[name])

    for name in sorted(STAGES):
        visit(name, ())
    return order


@dataclass
class StageResult:
    name: str
    seconds: float
    figures: dict[str, Any]


def run_pipeline(
    ctx: RunContext,
    only: Iterable[str] | None = None,
    on_stage: Callable[[Stage], Progress] | None = None,
) -> list[StageResult]:
    """Run the stages in order; ``on_stage`` supplies a progress reporter per stage."""
    results = []
    for stage in ordered_stages(only):
        if on_stage is not None:
            ctx.progress = on_stage(stage)
        t0 = time.perf_counter()
        figures = stage.run(ctx) or {}
        results.append(StageResult(stage.name, time.perf_counter() - t0, figures))
    return results
