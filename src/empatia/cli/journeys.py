"""``empatia journeys …``: funnels, paths, the journey map, and the event → stage mapping."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from empatia.cli.common import console, workspace

j_app = typer.Typer(help="Journeys: funnels, paths (Sankey data) and the journey map.",
                    no_args_is_help=True)  # fmt: skip
stages_app = typer.Typer(
    help="Which journey stage each event belongs to. "
    'Example: empatia journeys stages set "Trial Started" consider',
    no_args_is_help=True,
)
j_app.add_typer(stages_app, name="stages")


def register(app: typer.Typer) -> None:
    app.add_typer(j_app, name="journeys")


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _json(obj: Any) -> None:
    import orjson

    console.print_json(orjson.dumps(obj, default=str).decode())


@j_app.command("funnel")
def funnel_cmd(
    ctx: typer.Context,
    steps: Annotated[list[str], typer.Argument(help="Two or more step names, in order.")],
    within: Annotated[float, typer.Option(help="Days from the first step to convert.")] = 30.0,
    by: Annotated[
        Optional[str],
        typer.Option(help="Breakdown: channel, property:<name>, market, language, tier, …"),
    ] = None,  # noqa: UP045, E501
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Conversion and drop-off through ordered steps.

    Example: empatia journeys funnel "Product Viewed" "Product Added" "Order Completed" --within 7
    """
    f = workspace(ctx).funnel(steps, within_days=within, breakdown=by)
    if as_json:
        return _json(f)
    for name, rows in {"all": f["steps"], **f["groups"]}.items():
        t = Table("step", "people", "conversion", "from previous", "drop-off", "median time",
                  title=None if name == "all" else f"{by} = {name}")  # fmt: skip
        for s in rows:
            t.add_row(s["step"], f"{s['persons']:,}", f"{s['conversion']:.1%}",
                      f"{s['step_conversion']:.1%}", f"{s['drop_off']:,}", _dur(s["median_seconds"]))  # fmt: skip
        console.print(t)
    console.print(f"Median time to convert: {_dur(f['median_seconds_to_convert'])}")


@j_app.command("paths")
def paths_cmd(
    ctx: typer.Context,
    anchor: Annotated[str, typer.Argument(help="The step to start from.")],
    previous: Annotated[
        bool, typer.Option("--previous", help="Steps before instead of after.")
    ] = False,
    depth: Annotated[int, typer.Option(help="How many steps deep (1–6).")] = 3,
    top: Annotated[int, typer.Option(help="Most common steps kept per level.")] = 8,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON (nodes and links for a Sankey).")
    ] = False,
) -> None:
    """The most common next (or previous) steps from any step.

    Example: empatia journeys paths "Order Completed" --depth 2
    """
    p = workspace(ctx).paths(anchor, "previous" if previous else "next", depth=depth, top=top)
    if as_json:
        return _json(p)
    console.print(f"{p['occurrences']:,} times [bold]{anchor}[/]; "
                  f"{'before' if previous else 'after'} it:")  # fmt: skip
    t = Table("step", "count", "share")
    for s in p["top"]:
        t.add_row(s["step"], f"{s['count']:,}", f"{s['share']:.1%}")
    console.print(t)
    t = Table("from", "to", "people")
    for link in p["links"][:25]:
        t.add_row(link["source"], link["target"], f"{link['value']:,}")
    console.print(t)


@j_app.command("map")
def map_cmd(
    ctx: typer.Context,
    person: Annotated[Optional[str], typer.Option(help="One person's map.")] = None,  # noqa: UP045
    market: Annotated[Optional[str], typer.Option(help="Only this market.")] = None,  # noqa: UP045
    language: Annotated[Optional[str], typer.Option(help="Only this language.")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """The journey map: stages × touchpoints, conversion, time, effort, emotion curve.

    Example: empatia journeys map --market PL
    """
    m = workspace(ctx).journey_map(person, market=market, language=language)
    if as_json:
        return _json(m)
    t = Table("stage", "people", "events", "→ next", "time to next", "emotion", "effort cues",
              "top touchpoints")  # fmt: skip
    for s in m["stages"]:
        conv = s["conversion_to_next"]
        t.add_row(s["stage"], f"{s['persons']:,}", f"{s['events']:,}",
                  "–" if conv is None else f"{conv:.0%}", _dur(s["median_seconds_to_next"]),
                  "–" if s["emotion"] is None else f"{s['emotion']:+.2f}",
                  "–" if s["effort_share"] is None else f"{s['effort_share']:.0%}",
                  ", ".join(f"{tp['touchpoint']} {tp['events']:,}" for tp in s["touchpoints"][:3]))  # fmt: skip
    console.print(t)


@stages_app.command("list")
def stages_list(ctx: typer.Context) -> None:
    """The event → stage mapping in use (defaults plus this workspace's changes).

    Example: empatia journeys stages list
    """
    m = workspace(ctx).journey_stages()
    rank = {stage: i for i, stage in enumerate(m["order"])}
    t = Table("event", "stage")
    for ev, st in sorted(m["map"].items(), key=lambda kv: (rank.get(kv[1], len(rank)), kv[0])):
        t.add_row(ev, st)
    console.print(t)


@stages_app.command("set")
def stages_set(ctx: typer.Context, event: str, stage: str) -> None:
    """Map an event (or a 'page:*' prefix) to a stage; applies from the next `empatia run`.

    Example: empatia journeys stages set "Trial Started" consider
    """
    workspace(ctx).set_journey_stage(event, stage)
    console.print(f"{event} → {stage} (run `empatia run --only journeys` to apply)")
