"""``empatia profile ID``: one unified profile with the sources of its traits."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from empatia.cli_common import console, workspace
from empatia.profiles.api import get_profile


def register(app: typer.Typer) -> None:
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
        p = get_profile(workspace(ctx), identifier)
        if as_json:
            console.print_json(json.dumps(p, default=str))
            return
        t = Table("field", "value", title=f"person {p['person_id']}")
        for k, v in p["profile"].items():
            if v is not None and k != "person_id":
                t.add_row(k, str(v))
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
