"""``empatia demo``: build the demo world, import it, run the pipeline, serve the UI."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer

from empatia.workspace import Workspace

#: The sizes ``build_world`` accepts (checked here too, so a wrong size is a usage error).
MIN_CUSTOMERS, MAX_CUSTOMERS = 100, 10_000_000


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the root CLI."""
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    customers: Annotated[
        int, typer.Option(min=MIN_CUSTOMERS, max=MAX_CUSTOMERS,
                          help="People in the world (100 to 10,000,000).")
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Same seed, same world.")] = 42,
    db: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional
        typer.Option("--db", help="The store to fill (default: the global --db)."),
    ] = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Folder for the event files and the truth (default: next to the store)."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the UI afterwards.")
    ] = True,
) -> None:
    """Build a realistic multichannel, multilingual company with known truth, import it
    through the normal import path, run the pipeline and serve the UI.

    Example: empatia demo --customers 10000 --seed 7 --no-serve
    """
    from empatia.cli.common import console, local_store, progress_for_steps
    from empatia.demo.load import import_world
    from empatia.demo.world import STEPS, build_world

    ws = Workspace(db=db) if db is not None else local_store(ctx, "demo")
    if db is not None:
        ctx.call_on_close(ws.close)
    ws.store  # noqa: B018 - opened now: a store the server owns is refused before the build
    out_dir = out or Path(ws.settings.db).resolve().parent / f"{Path(ws.settings.db).stem}_demo"
    with progress_for_steps() as bar:
        task = bar.add_task(f"building {customers:,} customers", total=len(STEPS))
        world = build_world(out_dir, customers, seed,
                            progress=lambda what, done, total: bar.update(
                                task, completed=done, description=f"building: {what}"))  # fmt: skip
        imp = bar.add_task("importing", total=len(world.events))
        report = import_world(ws.store, world, progress=lambda _f: bar.advance(imp))
    console.print(f"World of {customers:,} customers (seed {seed}): {world.events_total:,} events "
                  f"in {world.seconds:.1f} s; truth in {out_dir}")  # fmt: skip
    console.print(f"Imported {report.accepted:,} events ({report.duplicates:,} already there, "
                  f"{report.rejected:,} rejected) in {report.seconds:.1f} s")  # fmt: skip
    from empatia.profiles.money import import_rates  # the rates the demo's prices were made with

    import_rates(ws.store, Path(str(resources.files("empatia.demo") / "rates.csv")), "EUR")
    _run_pipeline(ws)
    if serve:
        from empatia.api.server import serve as run_server
        from empatia.privacy.keys import create_key

        _, secret = create_key(ws.store, "admin", "demo")
        host, port = ws.settings.host, ws.settings.port
        console.print(f"Empatia is serving [bold]http://{host}:{port}/[/] (Ctrl+C stops)")
        console.print(f"Sign in with this admin key (shown once, stored hashed): [bold]{secret}[/]")
        run_server(ws, host, port, tune=True)


def _run_pipeline(ws: Workspace) -> None:
    """Run whatever pipeline stages are installed, a progress bar per stage, then a summary."""
    from empatia.cli.common import run_stages
    from empatia.pipeline import RunContext

    run_stages(RunContext(ws))
