"""``empatia care …``: the special-care list, acknowledging and resolving, webhooks."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import orjson
import typer
from rich.table import Table

from empatia.cli.common import console, workspace

care_app = typer.Typer(
    help="Special care: influential customers having a bad time, ranked.", no_args_is_help=True
)
hooks_app = typer.Typer(help="Webhooks that receive signed alerts.", no_args_is_help=True)
care_app.add_typer(hooks_app, name="webhooks")


def register(app: typer.Typer) -> None:
    app.add_typer(care_app, name="care")


def _status(status: str) -> str:
    """The web's words: a case with an alert nobody has taken yet is "open"."""
    return "open" if status == "new" else status


def _table(columns: tuple[str, ...], ids: tuple[str, ...]) -> Table:
    """Ids are never cut (a cut id cannot be pasted into the next command); text folds."""
    t = Table()
    for c in columns:
        if c in ids:
            t.add_column(c, no_wrap=True, overflow="fold", min_width=10)
        else:
            t.add_column(c, overflow="fold")
    return t


def _json(rows: Any) -> None:
    console.print_json(orjson.dumps(rows, default=str).decode())


@care_app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many entries.")] = 20,
    status: Annotated[
        Optional[str],
        typer.Option(
            help="List: open | acknowledged; alerts: open | acknowledged | resolved | superseded."
        ),
    ] = None,  # noqa: UP045, E501
    alerts: Annotated[
        bool, typer.Option("--alerts", help="Show alerts instead of the list.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    redact: Annotated[bool, typer.Option("--redact", help="Show what a read key sees.")] = False,
) -> None:
    """The ranked special-care list of the latest `empatia run` (or its alerts).

    Example: empatia care list --limit 10   |   empatia care list --alerts --status open
    """
    if alerts:
        return _alerts(workspace(ctx).care_alerts(status, limit), as_json)
    if status == "open":  # the list calls an open case "new"; people say open
        status = "new"
    rows = workspace(ctx).care_entries(limit, status, redact=redact)
    if as_json:
        return _json(rows)
    if not rows:
        console.print("Nobody needs special care right now (or `empatia run` has not run yet).")
        return
    wide = console.width >= 120  # the factors fit; else `care show` has them
    factors = ("influence", "risk", "value") if wide else ()
    t = _table(("#", "person", "score", *factors, "status", "alert", "why"), ids=("person", "alert"))
    for r in rows:
        figures = [f"{r[f]:.2f}" for f in factors]
        t.add_row(str(r["rank"]), r["person_id"], f"{r['score']:.3f}", *figures,
                  _status(r["status"]), r["alert_id"] or "",
                  r["explanation"])  # fmt: skip
    console.print(t)


def _alerts(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        return _json(rows)
    t = _table(("alert", "person", "kind", "status", "score", "when", "explanation"),
               ids=("alert", "person"))
    for a in rows:
        t.add_row(a["alert_id"], a["person_id"], a["kind"], a["status"], f"{a['score']:.3f}",
                  str(a["created_at"])[:16], a["explanation"])  # fmt: skip
    console.print(t)


@care_app.command("show")
def show(
    ctx: typer.Context,
    person_id: str,
    redact: Annotated[bool, typer.Option("--redact", help="Show what a read key sees.")] = False,
) -> None:
    """One person's case: explanation, factors, evidence (their words), history.

    Example: empatia care show P000123
    """
    e = workspace(ctx).care_case(person_id, redact=redact)
    console.print(f"[bold]{person_id}[/] score {e['score']:.3f} (influence {e['influence']:.2f} × "
                  f"risk {e['risk']:.2f} × value {e['value']:.2f}) — {_status(e.get('status', ''))}")  # fmt: skip
    console.print(e["explanation"])
    ev = e["evidence"]
    for k, v in ev.get("factors", {}).items():
        console.print(f"  {k:<24} {v:.3f}")
    for m in ev.get("messages", []):
        quote = f" “{m['text']}”" if m.get("text") and not redact else ""
        console.print(f"  {str(m.get('at'))[:16]} {m.get('event')} ({m.get('channel')}): "
                      f"{m.get('emotion') or ''}{' threat' if m.get('threat') else ''}{quote}")  # fmt: skip
    for h in e["history"]:
        console.print(f"  {str(h['at'])[:16]} {h['what']} {h['action']} {h['note'] or ''}")


@care_app.command("ack")
def ack(
    ctx: typer.Context,
    alert: Annotated[str, typer.Argument(help="Alert id, or a person id for their latest alert.")],
    note: Annotated[str, typer.Option(help="What you are doing about it.")] = "",
) -> None:
    """Acknowledge an alert: someone is on it (the person stays listed).

    Example: empatia care ack al_1a2b3c4d5e6f --note "called him"
    """
    r = workspace(ctx).care_action(alert, "acknowledged", note or None, actor="cli")
    console.print(f"acknowledged {r['alert_id']} ({r['person_id']})")


@care_app.command("resolve")
def resolve(
    ctx: typer.Context,
    alert: Annotated[str, typer.Argument(help="Alert id, or a person id for their latest alert.")],
    note: Annotated[str, typer.Option(help="How it was resolved.")] = "",
) -> None:
    """Resolve an alert: the person leaves the list until something new happens.

    Example: empatia care resolve P000123 --note "replaced the guitar, apologised"
    """
    r = workspace(ctx).care_action(alert, "resolved", note or None, actor="cli")
    console.print(f"resolved {r['alert_id']} ({r['person_id']})")


@hooks_app.command("add")
def hooks_add(
    ctx: typer.Context,
    url: str,
    secret: Annotated[
        Optional[str], typer.Option(help="Signing secret (generated if not given).")
    ] = None,  # noqa: UP045, E501
    min_score: Annotated[float, typer.Option(help="Only alerts at or above this score.")] = 0.0,
) -> None:
    """Send alerts to URL (JSON, signed with HMAC-SHA256 in X-Empatia-Signature).

    Example: empatia care webhooks add https://hooks.example.com/care
    """
    h = workspace(ctx).add_webhook(url, secret, min_score)
    console.print(f"webhook {h['webhook_id']} → {h['url']}; signing secret: [bold]{h['secret']}[/] "
                  "(shown once)")  # fmt: skip


@hooks_app.command("list")
def hooks_list(ctx: typer.Context) -> None:
    """Webhooks and their delivery counts. Example: empatia care webhooks list"""
    t = Table("webhook", "url", "min score", "active", "delivered", "failed attempts", "gave up")
    for h in workspace(ctx).webhooks():
        t.add_row(h["webhook_id"], h["url"], f"{h['min_score']:.2f}", str(h["active"]),
                  str(h["delivered"]), str(h["failed_attempts"]), str(h["gave_up"]))  # fmt: skip
    console.print(t)


@hooks_app.command("remove")
def hooks_remove(ctx: typer.Context, webhook_id: str) -> None:
    """Stop sending to a webhook (its log is kept). Example: empatia care webhooks remove wh_1a2b"""
    workspace(ctx).remove_webhook(webhook_id)
    console.print(f"removed {webhook_id}")


@hooks_app.command("deliver")
def hooks_deliver(ctx: typer.Context) -> None:
    """Deliver pending alerts now, with retries. Example: empatia care webhooks deliver"""
    counts = workspace(ctx).deliver_alerts()
    console.print(", ".join(f"{k} {v}" for k, v in counts.items()))


@hooks_app.command("log")
def hooks_log(
    ctx: typer.Context,
    alert: Annotated[Optional[str], typer.Option(help="Only this alert.")] = None,  # noqa: UP045
    limit: Annotated[int, typer.Option(help="How many attempts.")] = 50,
) -> None:
    """Delivery attempts, newest first. Example: empatia care webhooks log --alert al_1a2b3c"""
    t = Table("when", "alert", "webhook", "attempt", "status", "http", "error")
    for d in workspace(ctx).deliveries(alert, limit):
        t.add_row(str(d["attempted_at"])[:19], d["alert_id"], d["webhook_id"], str(d["attempt"]),
                  d["status"], str(d["http_status"] or ""), (d["error"] or "")[:60])  # fmt: skip
    console.print(t)
