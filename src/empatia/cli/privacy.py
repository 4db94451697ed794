"""``empatia subject|consent|retention|partner|audit|profiling``: a person's data, consent,
retention, partner exports and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from empatia.cli.common import console, workspace

subject_app = typer.Typer(help="A person's data: export it (right of access) or erase it.")
consent_app = typer.Typer(help="Consent per person and purpose (append-only ledger).")
partner_app = typer.Typer(help="Exports for partners: consenting people, contracted fields.")
profiling_app = typer.Typer(help="Progressive profiling: the next question for a person.")


def _json(data: Any) -> str:
    from empatia.privacy.access import to_json

    return to_json(data).decode()


@subject_app.command("export")
def subject_export(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="A person id or identifier (email:…, user_id:…).")],
    zip_path: Annotated[Optional[Path], typer.Option("--zip", help="Write a zip here.")] = None,  # noqa: UP045
) -> None:
    """Everything held about a person, as JSON (or a zip).

    Example: empatia subject export email:ala@example.com --zip ala.zip
    """
    ws = workspace(ctx)
    data = ws.export_subject(id, actor="cli")
    if zip_path is not None:
        from empatia.privacy.access import write_zip

        write_zip(data, zip_path)
        if ws.server() is None:  # erasure deletes it later (one written beside a server is ours)
            from empatia.privacy import files

            files.record(ws.store, zip_path, "subject_export", data["person_id"])
        rows = sum(len(v) for v in data["tables"].values())
        console.print(f"wrote {zip_path}: {rows} rows from {len(data['tables'])} tables")
    else:
        console.print_json(_json(data))


@subject_app.command("erase")
def subject_erase(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Person ids or identifiers (email:…, user_id:…).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would be erased.")] = False,
) -> None:
    """Erase people everywhere, for good; later events for them are dropped.

    Shows what will be erased and asks first (unless --yes). An id that names nobody is an
    error and changes nothing.

    Example: empatia subject erase email:ala@example.com --yes
    """
    ws = workspace(ctx)
    if not yes or dry_run:
        _show_erasure(ws.erase_many(ids, dry_run=True, actor="cli"), "would be")
        if dry_run:
            return
        typer.confirm(f"Erase {len(ids)} person(s) as above? This cannot be undone", abort=True)
    reports = ws.erase_many(ids, actor="cli")
    _show_erasure(reports, "")
    for report in reports:
        for path, done in report.get("files", {}).items():
            console.print(f"{path}: {done}", soft_wrap=True)
    for report in reports:
        console.print(f"erased; tombstone {report['subject']} "
                      f"({report['tombstones']} identifiers), file rewritten: {report['rewritten']}")  # fmt: skip


def _show_erasure(reports: list[dict[str, Any]], would: str) -> None:
    t = Table("table", f"rows {would} deleted".replace("  ", " "),
              f"others' rows {would} blanked".replace("  ", " "))  # fmt: skip
    deleted: dict[str, int] = {}
    blanked: dict[str, int] = {}
    for report in reports:
        for table, n in report["deleted"].items():
            deleted[table] = deleted.get(table, 0) + n
        for table, n in report["blanked"].items():
            blanked[table] = blanked.get(table, 0) + n
    for table in sorted(deleted.keys() | blanked.keys()):
        t.add_row(table, f"{deleted.get(table, 0):,}", f"{blanked.get(table, 0):,}")
    console.print(t)
    for report in reports:
        for note in report.get("unresolved", []):
            console.print(f"[yellow]note:[/] {note}")


@consent_app.command("show")
def consent_show(
    ctx: typer.Context, id: Annotated[str, typer.Argument(help="Person id or user_id:….")]
) -> None:
    """A person's current consent per purpose.

    Example: empatia consent show p_0737a1a1e8aeb4c8
    """
    t = Table("purpose", "granted", "since", "source", "legal basis")
    for purpose, s in workspace(ctx).consent(id).items():
        t.add_row(purpose, "yes" if s["granted"] else "no", str(s["decided_at"] or "")[:19],
                  s["source"], s["legal_basis"] or "")  # fmt: skip
    console.print(t)


@consent_app.command("set")
def consent_set(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Person id or user_id:….")],
    purpose: Annotated[str, typer.Argument(help="analytics, personalisation, marketing_email, …")],
    granted: Annotated[bool, typer.Option("--granted/--withdrawn")] = True,
    legal_basis: Annotated[str, typer.Option(help="consent, contract, …")] = "consent",
) -> None:
    """Record a consent decision (e.g. given on the phone).

    Example: empatia consent set p_0737a1a1e8aeb4c8 marketing_email --withdrawn
    """
    workspace(ctx).set_consent(id, purpose, granted, legal_basis=legal_basis, source="cli")
    console.print(f"{purpose}: {'granted' if granted else 'withdrawn'}")


def retention_cmd(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would go.")] = False,
    policies: Annotated[Optional[Path], typer.Option(help="A retention TOML file.")] = None,  # noqa: UP045
) -> None:
    """Delete rows older than their table's retention policy (raw events: 25 months; the
    workspace's own in empatia.toml: [stages.privacy.retention] events = "10 years"). The
    dry run is what the next `empatia run` deletes.

    Example: empatia retention --dry-run
    """
    rows = workspace(ctx).apply_retention(dry_run=dry_run, policies=policies, actor="cli")
    t = Table("table", "keep", "older than", "rows" + (" (would go)" if dry_run else " deleted"),
              "derived rows")  # fmt: skip
    for r in rows:
        t.add_row(r["table"], r["keep"], str(r["cutoff"])[:10], f"{r['rows']:,}",
                  ", ".join(f"{k}={v:,}" for k, v in r["derived"].items()))  # fmt: skip
    console.print(t)
    held = sum(r.get("held", 0) for r in rows)
    if held:
        console.print(f"{held:,} expired events arrived through the API since the last pass: "
                      "kept this time so they are announced; the next pass deletes them.")


@partner_app.command("export")
def partner_export(
    ctx: typer.Context,
    contract: Annotated[Path, typer.Argument(help="The partner's contract (TOML).")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[Optional[str], typer.Option("--format", help="parquet or csv.")] = None,  # noqa: UP045
) -> None:
    """Export consenting people's contracted fields for a partner.

    Example: empatia partner export partners/acme.toml --out acme.parquet
    """
    rep = workspace(ctx).export_partner(contract, out, fmt, actor="cli")
    console.print(f"{rep['partner']}: {rep['rows']:,} people to {rep['path']} "
                  f"({rep['without_consent']:,} left out: no partner_sharing consent)")  # fmt: skip


def audit_cmd(
    ctx: typer.Context,
    subject: Annotated[Optional[str], typer.Option(help="Only this person id.")] = None,  # noqa: UP045
    limit: Annotated[int, typer.Option(help="Most recent entries.")] = 50,
) -> None:
    """Who read, exported or erased whose data.

    Example: empatia audit --subject p_0737a1a1e8aeb4c8
    """
    t = Table("when", "who", "action", "subject", "detail")
    for r in workspace(ctx).audit_log(subject, limit):
        t.add_row(str(r["logged_at"])[:19], r["actor"], r["action"], r["subject"] or "",
                  r["detail"] or "")  # fmt: skip
    console.print(t)


@profiling_app.command("next")
def profiling_next(
    ctx: typer.Context, id: Annotated[str, typer.Argument(help="A person id.")]
) -> None:
    """The one question to ask a person now, if trust allows, and why (not).

    Example: empatia profiling next p_0737a1a1e8aeb4c8
    """
    d = workspace(ctx).next_question(id)
    if d["question"]:
        console.print(f"ask [bold]{d['question']['id']}[/] ({d['stage']}): {d['question']['text']}")
    else:
        console.print("ask nothing now: " + "; ".join(d["reasons"]))


def register(app: typer.Typer) -> None:
    app.add_typer(subject_app, name="subject")
    app.add_typer(consent_app, name="consent")
    app.add_typer(partner_app, name="partner")
    app.add_typer(profiling_app, name="profiling")
    app.command("retention")(retention_cmd)
    app.command("audit")(audit_cmd)
