"""``empatia experience …``: scores, excluded answers, effort, "succeeded but hurt", gap."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from empatia.cli.common import console, workspace

exp_app = typer.Typer(help="Experience: NPS/CSAT/CES, effort, succeeded-but-hurt, perception gap.",
                      no_args_is_help=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(exp_app, name="experience")


def _num(v: Any, fmt: str = "{:.1f}") -> str:
    if v is None or v != v:  # None or NaN
        return "–"
    return fmt.format(v)


def _json(rows: Any) -> None:
    from empatia.experience.views import to_json

    console.print_json(to_json(rows))


@exp_app.command("scores")
def scores(
    ctx: typer.Context,
    survey: Annotated[Optional[str], typer.Option(help="nps, csat or ces (default: all).")] = None,  # noqa: UP045
    by: Annotated[
        Optional[str],
        typer.Option(help="period, channel, touchpoint, journey_stage, market or language."),
    ] = None,  # noqa: UP045, E501
    period: Annotated[
        str, typer.Option(help="day, week, month, quarter or year (with --by period).")
    ] = "month",
    include_excluded: Annotated[
        bool, typer.Option("--include-excluded", help="Count bot-like answers too.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """NPS (−100..100), CSAT (% 4–5) and CES (% 5–7) with 95% confidence intervals.

    Example: empatia experience scores --survey nps --by market
    """
    rows = workspace(ctx).survey_scores(survey, by, period, include_excluded)
    if as_json:
        return _json(rows)
    key = by or "group"
    t = Table(key, "survey", "score", "95% CI", "mean", "answers")
    for r in rows:
        t.add_row(str(r[key]), r["survey"].upper(), _num(r["score"]),
                  f"{_num(r['ci_low'])} … {_num(r['ci_high'])}", _num(r["mean"], "{:.2f}"),
                  f"{r['n']:,}")  # fmt: skip
    console.print(t if rows else "No survey answers yet (run `empatia run`).")


@exp_app.command("excluded")
def excluded(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Survey answers left out of the scores (bots, copy-paste, straight-lining), with why.

    Example: empatia experience excluded --limit 50
    """
    found = workspace(ctx).excluded_answers(limit)
    if as_json:
        return _json(found)
    s, rows = found["summary"], found["responses"]
    console.print(f"{s['kept']:,} answers kept, {s['excluded']:,} excluded: "
                  + ", ".join(f"{k} {v:,}" for k, v in s["reasons"].items()))  # fmt: skip
    t = Table("seq", "person", "survey", "score", "seconds", "reason", "comment")
    for r in rows:
        t.add_row(str(r["seq"]), str(r["person_id"]), r["survey"], _num(r["score"], "{:g}"),
                  _num(r["duration_seconds"], "{:g}"), r["exclude_reason"], (r.get("comment") or "")[:60])  # fmt: skip
    console.print(t)


@exp_app.command("hurt")
def hurt(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
    person: Annotated[Optional[str], typer.Option(help="Only this person.")] = None,  # noqa: UP045
    orders: Annotated[
        bool, typer.Option("--orders", help="Delivered orders, then bad words.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Journeys the company calls a success that hurt the customer, with their own words.

    Example: empatia experience hurt --limit 10
    """
    if orders:
        return _hurt_orders(workspace(ctx).hurt_orders(limit), as_json)
    found = workspace(ctx).hurt(limit, person)
    if as_json:
        return _json(found)
    rows = found["journeys"]
    if not rows:
        console.print("No succeeded-but-hurt journeys (or `empatia run` has not run yet).")
        return
    t = Table("person", "case", "topic", "contacts", "switches", "wait h", "why", "their words",
              show_lines=True)  # fmt: skip
    for r in rows:
        words = "\n".join(
            f"“{w['text']}” ({_num(w['score'], '{:+.2f}')})" for w in r["evidence"][:2]
        )
        t.add_row(r["person_id"], r["case_id"], r["topic"] or "", str(r["contacts"]),
                  str(r["channel_switches"]), _num((r["wait_minutes"] or 0) / 60),
                  r["hurt_reasons"] or "", words)  # fmt: skip
    console.print(t)
    a = Table("journeys", "n", "bought again", "left", "complained publicly")
    for r in found["after"]:
        a.add_row(r["journeys"], f"{r['n']:,}", _num(100 * (r["bought_again"] or 0), "{:.0f}%"),
                  _num(100 * r["left"] if r["left"] is not None else None, "{:.0f}%"),
                  _num(100 * (r["complained_publicly"] or 0), "{:.0f}%"))  # fmt: skip
    console.print(a)


def _hurt_orders(found: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        return _json(found)
    t = Table("person", "order", "delivered", "worst rating", "their words", show_lines=True)
    for r in found:
        words = "\n".join(f"“{w['text']}”" for w in r["evidence"][:2])
        t.add_row(r["person_id"], r["order_id"] or "", str(r["delivered_at"])[:10],
                  _num(r["worst_rating"], "{:g}"), words)  # fmt: skip
    console.print(t if found else "No delivered orders followed by bad words.")


@exp_app.command("effort")
def effort(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help="topic, resolution, channel or all.")] = "topic",
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Effort per service journey: contacts, switches, transfers, waits, repeats, open age.

    Example: empatia experience effort --by channel
    """
    rows = workspace(ctx).effort(by)
    if as_json:
        return _json(rows)
    t = Table(by, "journeys", "contacts", "switches", "transfers", "wait min (median)",
              "repeat %", "days to resolve", "open", "effort", "hurt %")  # fmt: skip
    for r in rows:
        t.add_row(str(r[by]), f"{r['journeys']:,}", _num(r["contacts"], "{:.2f}"),
                  _num(r["channel_switches"], "{:.2f}"), _num(r["transfers"], "{:.2f}"),
                  _num(r["median_wait_minutes"]), _num(100 * r["repeat_share"], "{:.0f}"),
                  _num(r["median_days_to_resolve"]), f"{r['open']:,}", _num(r["effort_score"], "{:.2f}"),
                  _num(100 * r["hurt_share"], "{:.1f}"))  # fmt: skip
    console.print(t)


@exp_app.command("gap")
def gap(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """The perception gap: the company's own view beside what customers feel (0–100%).

    Example: empatia experience gap
    """
    rows = workspace(ctx).perception_gap()
    if as_json:
        return _json(rows)
    t = Table("touchpoint", "company says success", "self-rating", "customers positive", "gap",
              "company n", "customer n")  # fmt: skip
    pct = "{:.0%}"
    for r in rows:
        t.add_row(r["touchpoint"], _num(r["company_view"], pct), _num(r["self_rating"], pct),
                  _num(r["customer_view"], pct),
                  _num(100 * r["gap"] if r["gap"] is not None else None, "{:+.0f} pts"),
                  str(r["company_n"] or 0), str(r["customer_n"] or 0))  # fmt: skip
    console.print(t)


@exp_app.command("touchpoints")
def touchpoints_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """How people feel at each text touchpoint: mean sentiment, % negative, top emotion.

    Example: empatia experience touchpoints
    """
    rows = workspace(ctx).touchpoints()
    if as_json:
        return _json(rows)
    t = Table("event", "channel", "texts", "emotion", "negative", "top emotion", "effort cues")
    for r in rows:
        t.add_row(r["event"] or "", r["channel"], f"{r['texts']:,}", _num(r["emotion"], "{:+.2f}"),
                  _num(r["negative_share"], "{:.0%}"), r["top_emotion"] or "",
                  _num(r["effort_share"], "{:.0%}"))  # fmt: skip
    console.print(t if rows else "No analysed texts yet (run `empatia run`).")


@exp_app.command("person")
def person(
    ctx: typer.Context,
    person_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """One person's emotional trajectory: recent mood, trend, lowest point, every text.

    Example: empatia experience person P000123
    """
    tr = workspace(ctx).trajectory(person_id)
    if as_json:
        return _json(tr)
    console.print(f"[bold]{person_id}[/]: {tr['texts']} texts, average {_num(tr['average'], '{:+.2f}')}, "
                  f"recent {_num(tr['recent'], '{:+.2f}')}, trend {_num(tr['trend_per_30d'], '{:+.2f}')}"
                  f"/30 days ({tr['direction']}), lowest {_num(tr['lowest'], '{:+.2f}')} on "
                  f"{str(tr['lowest_at'])[:10]}")  # fmt: skip
    t = Table("when", "event", "channel", "score", "emotion")
    for c in tr["curve"]:
        t.add_row(str(c["at"])[:16], c["event"] or "", c["channel"] or "", _num(c["score"], "{:+.2f}"),
                  c["emotion"] or "")  # fmt: skip
    console.print(t)


@exp_app.command("may-survey")
def may_survey_cmd(ctx: typer.Context, person_id: str) -> None:
    """May we send this person a survey now? (consent, fatigue caps, open cases)

    Example: empatia experience may-survey P000123
    """
    answer = workspace(ctx).may_survey(person_id)
    ok, why = answer["allowed"], answer["reason"]
    console.print(f"[bold]{'yes' if ok else 'no'}[/]: {why}")
