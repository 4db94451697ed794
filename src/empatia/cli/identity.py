"""``empatia identity …``: review borderline matches, read the merge history, undo merges."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from empatia.cli.common import console, workspace

identity_app = typer.Typer(help="Identity resolution: review, history, unmerge, split.")


@identity_app.command("review")
def review(ctx: typer.Context, limit: int = 50) -> None:
    """List borderline probabilistic pairs waiting for a decision.

    Example: empatia identity review --limit 20
    """
    t = Table("left", "right", "probability", "people")
    for r in workspace(ctx).identity_review(limit):
        t.add_row(f"{r['kind_l']}:{r['value_l']}", f"{r['kind_r']}:{r['value_r']}",
                  f"{r['match_probability']:.3f}", f"{r['person_id_l']} / {r['person_id_r']}")  # fmt: skip
    console.print(t)


@identity_app.command("decide")
def decide(
    ctx: typer.Context,
    left: str,
    right: str,
    accept: Annotated[bool, typer.Option("--accept/--reject", help="Link them, or never.")],
) -> None:
    """Accept or reject a review pair; the next identity run applies it.

    Example: empatia identity decide crm_id:C1 loyalty_id:L9 --accept
    """
    workspace(ctx).decide_review(left, right, accept=accept)
    console.print(f"{'accepted' if accept else 'rejected'}; applied by the next `empatia run`")


@identity_app.command("history")
def history_cmd(
    ctx: typer.Context,
    person: Annotated[Optional[str], typer.Argument()] = None,  # noqa: UP045
) -> None:
    """Show merges, splits and unmerges (of one person, or all).

    Example: empatia identity history p_0123456789abcdef
    """
    t = Table("merge id", "when", "action", "person", "other", "identifiers", "why")
    for h in workspace(ctx).merge_history(person):
        t.add_row(h["merge_id"], str(h["merged_at"]), h["action"], h["person_id"],
                  h["other_person_id"], str(h["identifiers"]), f"{h['reason']}: {h['evidence']}")  # fmt: skip
    console.print(t)


@identity_app.command("unmerge")
def unmerge_cmd(ctx: typer.Context, merge_id: str) -> None:
    """Undo a wrong merge: identifiers, events and id go back to the absorbed person.

    Example: empatia identity unmerge m_20260101T000000_0123456789ab
    """
    figures = workspace(ctx).unmerge(merge_id)
    console.print(f"unmerged; {figures['persons']} people, profiles refreshed.")
    console.print("Run `empatia run` to refresh the later stages (emotion, journeys, …).")


@identity_app.command("split")
def split_cmd(ctx: typer.Context, identifiers: list[str]) -> None:
    """Split identifiers off their person into a new one.

    Example: empatia identity split user_id:kid email:kid@example.com
    """
    figures = workspace(ctx).split(identifiers)
    console.print(f"new person {figures['person_id']}; profiles refreshed.")
    console.print("Run `empatia run` to refresh the later stages (emotion, journeys, …).")


@identity_app.command("blocked")
def blocked(ctx: typer.Context) -> None:
    """List identifiers the over-merge guard blocked, and why.

    Example: empatia identity blocked
    """
    t = Table("identifier", "events", "why")
    for r in workspace(ctx).blocked_identifiers():
        t.add_row(f"{r['kind']}:{r['value']}", str(r["events"]), r["reason"])
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(identity_app, name="identity")
