"""The batch pipeline runner behind ``empatia run``.

A stage is an object with a ``name``, the ``after`` stages it needs, and ``run(ctx)``. Stages
register themselves in :data:`STAGES` (built-in ones the same way a plugin would, through
:func:`register_stage`); the runner orders them by ``after`` and runs each one, timing it.
Stages read and write tables in the store — never each other's internals.

Incremental runs: before a stage runs, the runner fingerprints its inputs — the high-water mark
of ``events`` (``max(seq)`` and the row count, so deletions count too), the output token of
each stage it runs ``after``, its own settings section, the row counts of the tables it ``watches``
(written outside the pipeline, e.g. the consent ledger) and whatever its own
``fingerprint(ctx)`` adds. When the fingerprint equals the one of its last run the stage is
skipped (reported as ``skipped``). A stage with ``always = True`` runs every time (e.g.
retention, which depends on the date). Fingerprints and tokens live in ``pipeline_state``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from empatia.errors import ConfigError
from empatia.settings import StagesSettings

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
    """What a stage gets: the workspace, its settings, the engine, a progress reporter.

    ``stages`` is the workspace's ``[stages]`` settings with this run's ``settings`` changes
    on top (same shape: ``{"decide": {"export": "d.parquet"}}``; an unknown key is an error).
    ``master``, ``spark_session`` and ``engine_instance`` are run-time objects for the engine
    layer (:func:`empatia.store.engine.engine_for`), never settings.
    """

    workspace: Workspace
    engine: str = "duckdb"
    full: bool = False  # rebuild from scratch instead of incrementally
    progress: Progress = field(default_factory=_NoProgress)
    settings: dict[str, Any] = field(default_factory=dict)
    master: str | None = None
    spark_session: Any = None
    engine_instance: Any = None
    stages: StagesSettings = field(init=False)

    def __post_init__(self) -> None:
        self.stages = self.workspace.settings.stages.merged(self.settings)


class Stage(Protocol):
    """``name``, ``after`` and ``run``; optionally ``always`` (never skipped), ``watches``
    (tables whose row counts are inputs) and ``fingerprint(ctx) -> str`` (more inputs)."""

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
    skipped: bool = False


#: What a skipped stage reports in the run summary.
SKIPPED = {"skipped": "inputs unchanged"}

_STATE_DDL = (
    "create table if not exists pipeline_state (stage varchar primary key, inputs varchar,"
    " token varchar, ran_at timestamptz)"
)


def _scalar(con: Any, sql: str, args: list[Any] | None = None) -> Any:
    row = con.execute(sql, args or []).fetchone()
    return row[0] if row else None


def _table_exists(con: Any, table: str) -> bool:
    return bool(_scalar(con, "select count(*) from information_schema.tables"
                        " where table_name = ?", [table]))  # fmt: skip


def stage_inputs(ctx: RunContext, stage: Stage) -> str:
    """The fingerprint of everything ``stage`` reads (see the module's docstring)."""
    con = ctx.workspace.store.con
    parts = [str(_scalar(con, "select coalesce(max(seq), 0) || ':' || count(*) from events"))]
    for dep in stage.after:
        if dep in STAGES:
            parts.append(f"{dep}={_scalar(con, 'select token from pipeline_state where stage = ?', [dep])}")
    for table in getattr(stage, "watches", ()):
        n = _scalar(con, f'select count(*) from "{table}"') if _table_exists(con, table) else None
        parts.append(f"{table}#{n}")
    section = getattr(ctx.stages, stage.name, None)
    parts.append(section.model_dump_json() if section is not None else "")
    extra = getattr(stage, "fingerprint", None)
    if extra is not None:
        parts.append(str(extra(ctx)))
    return hashlib.md5("|".join(parts).encode()).hexdigest()


def _last_inputs(ctx: RunContext, name: str) -> str | None:
    row = ctx.workspace.store.con.execute(
        "select inputs from pipeline_state where stage = ?", [name]
    ).fetchone()
    return str(row[0]) if row else None


def _record(
    ctx: RunContext, name: str, inputs: str, figures: dict[str, Any], after: str | None = None
) -> None:
    """Remember what the stage saw; its token (what downstream stages see) changes with its
    inputs and with what it reported doing — except that a stage run on unchanged inputs
    whose figures are all zero or empty (an ``always`` stage that found nothing to do) keeps it.

    ``after``: the inputs once the stage ran, kept for an ``always`` stage (which may write a
    table it watches), so that its own writes do not count as a change next time.
    """
    con = ctx.workspace.store.con
    row = con.execute("select inputs, token from pipeline_state where stage = ?", [name]).fetchone()
    idle = not any(figures.values())  # counts of what it changed: all 0 or empty
    if row is not None and row[0] == inputs and idle:
        return
    summary = json.dumps(figures, sort_keys=True, default=str)
    token = hashlib.md5(f"{inputs}|{summary}".encode()).hexdigest()
    con.execute(
        "insert or replace into pipeline_state values (?, ?, ?, now())",
        [name, after or inputs, token],
    )


def run_pipeline(
    ctx: RunContext,
    only: Iterable[str] | None = None,
    on_stage: Callable[[Stage], Progress] | None = None,
) -> list[StageResult]:
    """Run the stages in order, skipping those whose inputs did not change since their last
    run (unless ``ctx.full``); ``on_stage`` supplies a progress reporter per stage."""
    results = []
    ctx.workspace.store.con.execute(_STATE_DDL)
    for stage in ordered_stages(only):
        if on_stage is not None:
            ctx.progress = on_stage(stage)
        t0 = time.perf_counter()
        inputs = stage_inputs(ctx, stage)
        always = bool(getattr(stage, "always", False))
        if not ctx.full and not always and _last_inputs(ctx, stage.name) == inputs:
            results.append(StageResult(stage.name, time.perf_counter() - t0, dict(SKIPPED), True))
            continue
        figures = stage.run(ctx) or {}
        _record(ctx, stage.name, inputs, figures, stage_inputs(ctx, stage) if always else None)
        results.append(StageResult(stage.name, time.perf_counter() - t0, figures))
    return results
