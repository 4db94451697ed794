"""What every CLI command shares: the workspace of the global options, the console, progress."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from empatia.errors import StoreLockedError
from empatia.workspace import Workspace

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def workspace(ctx: typer.Context) -> Workspace:
    """The workspace named by the global options (``--db``), made once per command: the one
    client every command calls. Its methods run on the store, or — while ``empatia serve``
    owns the store (a DuckDB file has one process at a time) — on that server."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    if "workspace" not in obj:
        obj["workspace"] = Workspace(db=obj.get("db"))
        root.obj = obj
        ctx.call_on_close(obj["workspace"].close)
    ws: Workspace = obj["workspace"]
    return ws


def local_store(ctx: typer.Context, what: str, instead: str = "") -> Workspace:
    """The workspace for a command that makes a store (``init``, ``demo``): while ``empatia
    serve`` owns the store, say what to do instead of failing with "in use"."""
    ws = workspace(ctx)
    try:
        ws.store  # noqa: B018 - opens it
    except StoreLockedError as e:
        url = e.details.get("url")
        if url is None:
            raise
        raise StoreLockedError(
            f"`empatia {what}` works on the store itself, and `empatia serve` ({url}) owns it "
            "now: stop the server (Ctrl+C where it runs), run the command, then serve again"
            + (f"; or, with the server running, {instead}" if instead else ""),
            **e.details,
        ) from e
    return ws


class _Count(ProgressColumn):
    """Work done, and of how much when the stage said (``1,200/5,000``)."""

    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        return Text(done if task.total is None else f"{done}/{int(task.total):,}")


def progress_bar() -> Progress:
    """A progress bar on stderr: done / total, elapsed, and an ETA once a total is known."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), _Count(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err_console)  # fmt: skip


class PlainProgress:
    """``progress_bar()``'s stand-in when stderr is no terminal: a line per step, flushed, so
    a redirected log shows what happens while it happens (Rich would print only at the end)."""

    def __init__(self) -> None:
        self.tasks: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add_task(self, description: str, total: float | None = None, **_: Any) -> TaskID:
        self.tasks[len(self.tasks)] = {"description": description, "total": total, "completed": 0}
        return TaskID(len(self.tasks) - 1)  # rich's NewType of int: the same int at runtime

    def update(self, task: int, **changes: Any) -> None:
        t = self.tasks[task]
        before = (t["description"], t["completed"])
        t.update({k: v for k, v in changes.items() if k in t})
        if t["description"] != before[0] or t["completed"] != before[1]:
            self._line(t)

    def advance(self, task: int, n: float = 1) -> None:
        self.update(task, completed=self.tasks[task]["completed"] + n)

    @staticmethod
    def _line(t: dict[str, Any]) -> None:
        of = f"/{int(t['total']):,}" if t["total"] is not None else ""
        err_console.print(f"{t['description']} ({int(t['completed']):,}{of})", soft_wrap=True,
                          markup=False, highlight=False)  # fmt: skip
        err_console.file.flush()


def progress_for_steps() -> Progress | PlainProgress:
    """A progress bar on a terminal; otherwise a plain line per step."""
    return progress_bar() if err_console.is_terminal else PlainProgress()


def figures_text(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}={v}"
                     for k, v in figures.items())  # fmt: skip


class _StageBar:
    """One stage's row: counts what the stage reports; its timer stops when the stage ends."""

    def __init__(self, bar: Progress, name: str) -> None:
        self.bar, self.name = bar, name
        self.task = bar.add_task(f"stage {name}", total=None)

    def total(self, n: int | None) -> None:
        self.bar.update(self.task, total=n)

    def advance(self, n: int = 1) -> None:
        self.bar.advance(self.task, n)

    def done(self, result: Any) -> None:
        task = self.bar.tasks[self.task]
        if task.total is not None:
            self.bar.update(self.task, completed=task.total)
        self.bar.update(self.task, description=f"stage {self.name}: {figures_text(result.figures)}")
        self.bar.stop_task(self.task)


class _StageLine:
    """Without a terminal (output redirected, CI, ``make demo | tee``): one line per stage."""

    def __init__(self, name: str) -> None:
        self.name = name

    def total(self, n: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def done(self, result: Any) -> None:
        figures = figures_text(result.figures)
        err_console.print(f"stage {self.name}: {result.seconds:.1f} s" + (f", {figures}" if figures else ""),
                          soft_wrap=True, markup=False, highlight=False)  # fmt: skip
        err_console.file.flush()


@contextmanager
def _settled_heap() -> Iterator[Callable[[], None]]:
    """For the CLI's ``empatia run``, a process that runs the stages and exits: before each
    stage, what the earlier ones left alive is frozen (:func:`gc.freeze`), so the cyclic
    collector's full passes during the stage skip it (they scanned it again and again while
    decide made its people's candidates: 0.9 s of a 20k world's run). Unfrozen after.

    What the earlier stages dropped is collected first: a cycle frozen while unreachable is
    never freed (on Spark each stage froze 5–20 MB of its plans' cycles for the rest of the
    run)."""

    def settle() -> None:
        gc.collect()
        gc.freeze()

    try:
        yield settle
    finally:
        gc.unfreeze()


def run_stages(run_ctx: Any, only: list[str] | None = None) -> list[Any]:
    """Run the pipeline stage by stage with progress (a bar each on a terminal, a line each
    otherwise), then print the timing summary."""
    from contextlib import nullcontext

    from empatia.pipeline import ordered_stages, run_pipeline

    terminal = err_console.is_terminal
    bar = progress_bar() if terminal else None
    results: list[Any] = []
    with bar if bar is not None else nullcontext(), _settled_heap() as settle:
        for stage in ordered_stages(only):
            settle()
            row = _StageBar(bar, stage.name) if bar is not None else _StageLine(stage.name)
            on_stage = cast("Callable[[Any], Any]", lambda _st, r=row: r)
            for result in run_pipeline(run_ctx, [stage.name], on_stage=on_stage):
                row.done(result)
                results.append(result)
    print_results(results)
    return results


def print_results(results: list[Any]) -> None:
    """The run summary: a row per stage (results as objects or as the server's dicts)."""
    if not results:
        console.print("No pipeline stages are installed yet.")
        return
    t = Table("stage", "seconds", "figures")
    for r in results:
        r = r if isinstance(r, dict) else {"stage": r.name, "seconds": r.seconds, "figures": r.figures}
        t.add_row(r["stage"], f"{r['seconds']:.2f}", figures_text(r["figures"]))
    console.print(t)
