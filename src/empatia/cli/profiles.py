"""``empatia profile ID``: one unified profile with the sources of its traits;
``empatia rates import/list``: the exchange rates that put money in the reporting currency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from empatia.cli.common import console, workspace
from empatia.errors import NotFoundError
from empatia.profiles.money import MONEY_COLUMNS

rates_app = typer.Typer(
    help="Exchange rates into the reporting currency (revenue, average order, CLV).",
    no_args_is_help=True,
)


@rates_app.command("import")
def rates_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV with the header date,currency,rate.")],
    base: Annotated[
        str | None,
        typer.Option(help="The currency the rates are quoted against (default: reporting)."),
    ] = None,
) -> None:
    """Import dated rates: `rate` units of `currency` per 1 unit of the reporting currency.

    An amount converts with the rate of its day, or the latest before it; `empatia run` then
    rebuilds profiles. Re-importing a day replaces its rate.

    Example: empatia rates import rates.csv   (line: 2026-01-05,PLN,4.27 — 1 EUR = 4.27 PLN)
    """
    if not path.is_file():
        raise NotFoundError(f"no rates file at {str(path)!r}", path=str(path))
    text = path.read_text(encoding="utf-8-sig")  # read here: the server reads no caller's paths
    done = workspace(ctx).import_rates(text, base, name=path.name)
    console.print(
        f"{done['rates']:,} rates per 1 {done['base']} for {', '.join(done['currencies'])}, "
        f"{done['from']} to {done['to']}; `empatia run` converts profiles with them"
    )


@rates_app.command("list")
def rates_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the rates held, per currency: days, first and latest date, latest rate.

    Example: empatia rates list
    """
    ws = workspace(ctx)
    rows = ws.rates()
    if as_json:
        console.print_json(json.dumps(rows, default=str))
        return
    if not rows:
        console.print(
            f"no rates: amounts not in {ws.settings.reporting_currency} are not converted; "
            "add them with `empatia rates import rates.csv`"
        )
        return
    t = Table("1 unit of", "in", "days", "from", "to", "latest rate", title="exchange rates")
    for r in rows:
        t.add_row(r["base"], r["currency"], f"{r['days']:,}", str(r["from"]), str(r["to"]),
                  f"{r['latest']:g}")  # fmt: skip
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(rates_app, name="rates")

    @app.command("profile")
    def profile(
        ctx: typer.Context,
        identifier: Annotated[
            str, typer.Argument(help="Any identifier, kind:value, or person id.")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Print one person's unified profile, identifiers and trait sources.

        Example: empatia profile email:ala@example.com
        """
        p = workspace(ctx).profile(identifier)
        if as_json:
            console.print_json(json.dumps(p, default=str))
            return
        t = Table("field", "value", title=f"person {p['person_id']}")
        unit = p["profile"].get("currency")
        for k, v in p["profile"].items():
            if v is not None and k not in ("person_id", "currency"):
                t.add_row(k, f"{v} {unit}" if k in MONEY_COLUMNS and unit else str(v))
        console.print(t)
        ids = Table("kind", "value", title="identifiers")
        for i in p["identifiers"]:
            ids.add_row(i["kind"], i["value"])
        console.print(ids)
        tr = Table("trait", "value", "source", "when", title="traits and their sources")
        for x in p["traits"]:
            tr.add_row(x["trait"], str(x["value"]), str(x["source"]), str(x["timestamp"]))
        console.print(tr)
        if p["merges"]:
            m = Table("when", "action", "person", "other", "why", title="merge history")
            for x in p["merges"]:
                m.add_row(str(x["merged_at"]), x["action"], x["person_id"], x["other_person_id"],
                          f"{x['reason']}: {x['evidence']}")  # fmt: skip
            console.print(m)
