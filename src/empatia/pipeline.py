"""The batch pipeline runner behind ``empatia run``: stages as declared transformations.

A stage declares its ``name``, the tables it ``reads`` (the event log, other stages'
outputs, ledgers people write through the API), the tables it ``writes`` (each written by
exactly one stage; their schemas are the stage's migrations) and ``run(ctx)``. The runner
orders the stages from these declarations — a stage runs after the stages that write what it
reads — so data flows one way, toward the store. The one exception is privacy, which
``erases`` a person's rows from every table: it runs before every stage that does not feed it.
Built-in stages register the way a plugin does, through the ``empatia.stages`` entry points,
loaded loudly (a broken one is an error, never a stage quietly left out).
``empatia stages`` prints the graph; ``tests/test_pipeline.py`` runs every stage on a store
holding only the tables it declares, and checks that it changed only the tables it writes.

Incremental runs: before a stage runs, the runner fingerprints its inputs — for each table
it reads, the output token of the stage that writes it, or, for the event log, its
high-water mark (``max(seq)`` and the row count, so deletions count too), or, for a table no
stage writes (pins, the stage map, exchange rates…), its row count and a hash of its rows —
plus its own settings section, the tables it ``watches`` (its outputs people also write) and
whatever its own ``fingerprint(ctx)`` adds. When the fingerprint equals the one of its last
run the stage is skipped (reported as ``skipped``). A stage with ``always = True`` runs every
time (e.g. privacy, whose retention depends on the date). Fingerprints and tokens live in
``pipeline_state``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import sqlglot
from sqlglot import exp

from empatia.errors import ConfigError
from empatia.plugins import Registry
from empatia.settings import StagesSettings
from empatia.store import state
from empatia.store.scoped import StageStore

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
    ``master`` and ``spark_conf`` (``empatia run --master/--conf``) go on top of the
    ``[spark]`` settings; ``spark_session`` and ``engine_instance`` are run-time objects for
    the engine layer (:func:`empatia.store.engine.engine_for`), never settings.
    """

    workspace: Workspace
    engine: str = "duckdb"
    full: bool = False  # rebuild from scratch instead of incrementally
    progress: Progress = field(default_factory=_NoProgress)
    settings: dict[str, Any] = field(default_factory=dict)
    master: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    spark_session: Any = None
    engine_instance: Any = None
    #: On Spark, the rows the running stage moved through the driver (``collected``: results
    #: brought to it; ``sent``: rows it sent to the executors), shown with its figures.
    driver_rows: Counter[str] = field(default_factory=Counter)
    #: On a lake store, the event log's mark (:func:`table_version`) when this run shipped it.
    shipped: str | None = None
    stages: StagesSettings = field(init=False)
    #: The store as the running stage sees it: a :class:`~empatia.store.scoped.StageStore`
    #: (one transaction, its declared tables) while the runner runs it; the workspace's
    #: store when a stage is called directly.
    store: Any = field(init=False)

    def __post_init__(self) -> None:
        from empatia.store.engine import ENGINES, unknown_engine  # not at import: CLI start

        if self.engine not in ENGINES:  # before any stage runs on the default engine
            raise unknown_engine(self.engine)
        self.stages = self.workspace.settings.stages.merged(self.settings)
        self.store = self.workspace.store

    def after_commit(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once the stage's outputs are committed (at once outside the runner):
        side effects outside the store, and work that needs the whole store."""
        if isinstance(self.store, StageStore):
            self.store.after_commit(fn)
        else:
            fn()


#: Tables every stage keeps its own rows in (the runner's state, changed-people marks).
BOOKKEEPING = ("pipeline_state", "person_marks", "stage_marks")
#: ``erases = ALL``: the stage may delete a person's rows from any table (privacy).
ALL = ("*",)


class Stage(Protocol):
    """``name``, ``reads``, ``writes`` and ``run``; optionally ``erases`` (tables it deletes a
    person's rows from, :data:`ALL` for every one), ``always`` (never skipped), ``watches``
    (tables it writes that people also write, counted as inputs) and
    ``fingerprint(ctx) -> str`` (more inputs)."""

    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]

    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Do the stage's work; return a few figures for the summary (rows written, …)."""
        ...


#: The stages: the ``empatia.stages`` entry points (built-in ones included).
STAGES: Registry[Stage] = Registry("empatia.stages")


def registered_stages() -> Mapping[str, Stage]:
    """Every registered stage by name, its declarations checked (a table written by two
    stages, a cycle, or an entry point that is not the stage it names is an error)."""
    for name, stage in STAGES.items():
        if getattr(stage, "name", None) != name:
            raise ConfigError(f"the entry point {name!r} of {STAGES.group} is not a stage {name!r}")
    dataflow(STAGES)
    return STAGES


def writers(stages: Mapping[str, Stage]) -> dict[str, str]:
    """Which stage writes each table (an error when two declare the same table)."""
    out: dict[str, str] = {}
    for stage in stages.values():
        for table in stage.writes:
            if table in out and out[table] != stage.name:
                raise ConfigError(
                    f"table {table!r} is written by two stages: {out[table]} and {stage.name}"
                )
            out[table] = stage.name
    return out


def dataflow(stages: Mapping[str, Stage]) -> dict[str, set[str]]:
    """For each stage, the stages that must run before it: those writing a table it reads;
    and an erasing stage (privacy) before every stage that does not feed it."""
    wrote = writers(stages)
    needs = {
        name: {wrote[t] for t in s.reads if t in wrote and wrote[t] != name}
        for name, s in stages.items()
    }
    for name, stage in stages.items():
        if getattr(stage, "erases", ()):
            feeds = _ancestors(needs, name)
            for other in stages:
                if other != name and other not in feeds:
                    needs[other].add(name)
    for name in stages:
        _ancestors(needs, name)  # raises on a cycle
    return needs


def _ancestors(needs: Mapping[str, set[str]], name: str) -> set[str]:
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(name, (name,))]
    while todo:
        node, path = todo.pop()
        for dep in needs.get(node, ()):
            if dep == name:
                raise ConfigError(f"stage dependency cycle: {' -> '.join(path + (dep,))}")
            if dep not in seen:
                seen.add(dep)
                todo.append((dep, path + (dep,)))
    return seen


def ordered_stages(
    only: Iterable[str] | None = None, stages: Mapping[str, Stage] | None = None
) -> list[Stage]:
    """Stages in dataflow order, optionally only the named ones (``stages``: instead of the
    registered ones, e.g. a test's own)."""
    known = registered_stages() if stages is None else stages
    wanted = set(only) if only else set(known)
    unknown = wanted - set(known)
    if unknown:
        raise ConfigError(
            f"unknown stage(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    needs = dataflow(known)
    order: list[str] = []
    while len(order) < len(known):  # Kahn's algorithm; ties in name order, so runs repeat
        ready = sorted(n for n in known if n not in order and needs[n] <= set(order))
        order.append(ready[0])
    return [known[n] for n in order if n in wanted]


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


def read_tables(con: Any, names: Iterable[str]) -> set[str]:
    """``names`` with every view replaced by the tables it reads (SQLGlot parses the view's
    SQL), so that a stage reading ``consent_current`` depends on ``consent_ledger``; a lake
    table's view (:mod:`empatia.store.lake`) is that table."""
    from empatia.store.lake import LAKE_TABLES  # views of the lake's tables stand for them

    views = {v: sql for v, sql in con.execute(
        "select view_name, sql from duckdb_views() where not internal"
    ).fetchall() if v not in LAKE_TABLES}  # fmt: skip
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        if name in views:
            tree = sqlglot.parse_one(views[name], read="duckdb")
            ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
            todo += [t.name for t in tree.find_all(exp.Table) if t.name not in ctes]
    return out - set(views)


def table_version(con: Any, table: str) -> str:
    """What changes when the rows of ``table`` change: for the event log its high-water
    mark and count (append-only but for deletions); for other tables the count and a hash
    of every row."""
    if table == "events":
        return str(_scalar(con, "select coalesce(max(seq), 0) || ':' || count(*) from events"))
    return str(_scalar(con, f'select count(*) || \':\' || coalesce(bit_xor(hash(t)), 0) from "{table}" t'))


def stage_inputs(ctx: RunContext, stage: Stage, stages: Mapping[str, Stage] | None = None) -> str:
    """The fingerprint of everything ``stage`` reads (see the module's docstring)."""
    con = ctx.store.con
    wrote = writers(registered_stages() if stages is None else stages)
    parts = []
    for table in sorted(read_tables(con, stage.reads) - set(stage.writes)):
        if table in wrote:
            token = _scalar(con, "select token from pipeline_state where stage = ?", [wrote[table]])
            parts.append(f"{table}@{token}")
        else:
            parts.append(f"{table}#{table_version(con, table)}")
    for table in getattr(stage, "watches", ()):
        parts.append(f"{table}#{table_version(con, table)}")
    section = getattr(ctx.stages, stage.name, None)
    parts.append(section.model_dump_json() if section is not None else "")
    extra = getattr(stage, "fingerprint", None)
    if extra is not None:
        parts.append(str(extra(ctx)))
    return hashlib.md5("|".join(parts).encode()).hexdigest()


def _last_inputs(ctx: RunContext, name: str) -> str | None:
    row = ctx.store.con.execute(
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
    con = ctx.store.con
    row = con.execute("select inputs, token from pipeline_state where stage = ?", [name]).fetchone()
    idle = not any(figures.values())  # counts of what it changed: all 0 or empty
    if row is not None and row[0] == inputs and idle:
        return
    summary = json.dumps(figures, sort_keys=True, default=str)
    token = hashlib.md5(f"{inputs}|{summary}".encode()).hexdigest()
    state.replace_row(con, "pipeline_state", ("stage",), {
        "stage": name, "inputs": after or inputs, "token": token,
        "ran_at": datetime.now(timezone.utc)})


def run_pipeline(
    ctx: RunContext,
    only: Iterable[str] | None = None,
    on_stage: Callable[[Stage], Progress] | None = None,
    stages: Mapping[str, Stage] | None = None,
) -> list[StageResult]:
    """Run the stages in dataflow order, skipping those whose inputs did not change since
    their last run (unless ``ctx.full``); ``on_stage`` supplies a progress reporter per
    stage; ``stages``: instead of the registered ones."""
    known = registered_stages() if stages is None else stages
    results = []
    store = ctx.workspace.store
    if store.lake is not None:  # a lake's runs are its primary's, over what every node sent
        from empatia.ingest.nodes import gather
        from empatia.store.lake import require_primary

        require_primary(store.con, store.lake, "empatia run")
        with store.lock:
            gather(store)
    store.con.execute(_STATE_DDL)
    for stage in ordered_stages(only, known):
        if on_stage is not None:
            ctx.progress = on_stage(stage)
        t0 = time.perf_counter()
        inputs = stage_inputs(ctx, stage, known)
        always = bool(getattr(stage, "always", False))
        if "events" in stage.reads:
            _ship(ctx)
        if not ctx.full and not always and _last_inputs(ctx, stage.name) == inputs:
            results.append(StageResult(stage.name, time.perf_counter() - t0, dict(SKIPPED), True))
            continue
        figures = _run_stage(ctx, stage, known, inputs)
        results.append(StageResult(stage.name, time.perf_counter() - t0, figures))
    return results


def _ship(ctx: RunContext) -> None:
    """The event log's new (or changed) rows to the lake, where a stage on Spark reads them."""
    from empatia.store.lake import ship_events

    store = ctx.workspace.store
    if store.lake is None:
        return
    with store.lock:
        mark = table_version(store.con, "events")
        if mark != ctx.shipped:  # once a run, and again when a stage changed the log
            ship_events(store.con, store.lake)
            ctx.shipped = mark


def _run_stage(
    ctx: RunContext, stage: Stage, known: Mapping[str, Stage], inputs: str, tries: int = 2
) -> dict[str, Any]:
    """Run ``stage`` in one transaction with the record of its inputs (see
    :mod:`empatia.store.scoped`); a write conflict with a concurrent writer (the server's)
    rolls it back and runs it again, once."""
    store = ctx.workspace.store
    may_write = None if getattr(stage, "erases", ()) else (*stage.writes, *BOOKKEEPING)
    db = StageStore(store, stage.name, may_write)
    ctx.store = db
    ctx.driver_rows.clear()
    try:
        figures = stage.run(ctx) or {}
        if ctx.engine == "spark":
            figures |= {f"driver_{k}": v for k, v in sorted(ctx.driver_rows.items())}
        after = stage_inputs(ctx, stage, known) if getattr(stage, "always", False) else None
        _record(ctx, stage.name, inputs, figures, after)
    except duckdb.TransactionException as e:
        db.rollback()
        if tries <= 1 or "onflict" not in str(e):
            raise
        return _run_stage(ctx, stage, known, inputs, tries - 1)
    except BaseException:
        db.rollback()
        raise
    finally:
        ctx.store = store
    db.commit()
    return figures


def mermaid(stages: Mapping[str, Stage] | None = None) -> str:
    """The dataflow as a Mermaid chart: stage → the tables it writes → the stages reading
    them (``docs/architecture.md`` holds it; ``empatia stages --mermaid`` prints it)."""
    known = registered_stages() if stages is None else stages
    wrote = writers(known)
    lines = ["flowchart LR", "  events[(events)]"]
    for stage in ordered_stages(stages=known):
        lines.append(f"  {stage.name}[[{stage.name}]]")
        ins = sorted({wrote.get(t, t) for t in stage.reads} - {stage.name})
        lines += [f"  {src} --> {stage.name}" for src in ins if src in known or src == "events"]
        people = sorted(t for t in stage.reads if t not in wrote and t != "events")
        if people:
            lines.append(f"  {stage.name}_in[/{', '.join(people)}/] -.-> {stage.name}")
    return "\n".join(lines) + "\n"
