"""``empatia decide --all`` and ``empatia decide ID``: next-best actions from the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from empatia.cli.common import console, progress_bar, workspace


def register(app: typer.Typer) -> None:
    @app.command("decide")
    def decide(
        ctx: typer.Context,
        identifier: Annotated[str | None, typer.Argument(help="Any identifier or person id.")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Decide for every person.")] = False,
        export: Annotated[Path | None, typer.Option(help="Also write the decisions to this "
                                                         ".parquet or .csv file.")] = None,
        actions: Annotated[Path | None, typer.Option(help="An action catalogue (TOML) instead "
                                                          "of the shipped one.")] = None,
        channel: Annotated[str | None, typer.Option(help="Live context: the channel now.")] = None,
        category: Annotated[str | None, typer.Option(help="Live context: current category.")] = None,
        near_store: Annotated[str | None, typer.Option(help="Live context: a store nearby.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Next-best action for every person (--all) or for one, explained.

        Example: empatia decide --all --export decisions.parquet
                 empatia decide email:ala@example.com --channel app
        """
        if all_:
            ws = workspace(ctx)
            catalogue = actions or ws.settings.stages.decide.actions_file
            with progress_bar() as bar:
                task = bar.add_task("deciding", total=None)
                figures = ws.decide_all(_catalogue_text(catalogue) if catalogue else None,
                                        str(catalogue), progress=lambda n: bar.advance(task, n))  # fmt: skip
            if export is not None:
                _export(ws.decisions().to_pandas(), export)
            t = Table("figure", "value", title="decide --all")
            for k, v in figures.items():
                t.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
            console.print(t)
            return
        if not identifier:
            raise typer.BadParameter("give an identifier, or --all")
        live = {"channel": channel, "category": category, "near_store": near_store}
        d = workspace(ctx).next_action(identifier, live)
        if as_json:
            console.print_json(json.dumps(d, default=str))
            return
        console.print(f"[bold]{d['action']}[/bold] ({d['kind']}) via {d['channel'] or '—'}: "
                      f"{d['reason']}")
        if d["items"]:
            console.print("items: " + ", ".join(d["items"]))
        for note in d["policy"]:
            console.print(f"  policy: {note}")


def _catalogue_text(path: str | Path) -> str:
    """The catalogue file, read here (the server, when it decides, reads no caller's paths)."""
    from empatia.errors import ConfigError

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"no action catalogue at {p}", path=str(p))
    return p.read_text()


def _export(frame: Any, export: Path) -> None:
    """The decisions as Parquet, or CSV for a ``.csv`` name."""
    export.parent.mkdir(parents=True, exist_ok=True)
    if export.suffix == ".csv":
        frame.to_csv(export, index=False)
    else:
        frame.to_parquet(export, index=False)
