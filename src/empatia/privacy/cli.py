"""``empatia subject|consent|retention|partner|audit|profiling`` and ``empatia keys rotate``.

Each command is a few lines over the library; when ``empatia serve`` owns the store, the
command goes through the server's admin API instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional
from urllib.parse import quote

import typer
from rich.table import Table

from empatia.cli_common import console, store_or_remote

subject_app = typer.Typer(help="A person's data: export it (right of access) or erase it.")
consent_app = typer.Typer(help="Consent per person and purpose (append-only ledger).")
partner_app = typer.Typer(help="Exports for partners: consenting people, contracted fields.")
profiling_app = typer.Typer(help="Progressive profiling: the next question for a person.")


def _id(s: str) -> str:
    return quote(s, safe="")


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
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        data = remote.call("GET", f"/v1/subjects/{_id(id)}")
    else:
        from empatia.privacy.access import export_subject

        assert ws is not None
        data = export_subject(ws.store, id, actor="cli")
    if zip_path is not None:
        from empatia.privacy.access import write_zip

        write_zip(data, zip_path)
        if ws is not None:  # erasure deletes it later (a zip written through the server is the CLI's)
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
    ws, remote = store_or_remote(ctx)

    def run(dry: bool) -> list[dict[str, Any]]:
        if remote is not None:
            return [remote.call("DELETE", f"/v1/subjects/{_id(i)}?dry_run={str(dry).lower()}")
                    for i in ids]  # fmt: skip
        from empatia.privacy.erasure import erase_many

        assert ws is not None
        return [r.as_dict() for r in erase_many(ws.store, ids, actor="cli", dry_run=dry)]

    if not yes or dry_run:
        _show_erasure(run(True), "would be")
        if dry_run:
            return
        typer.confirm(f"Erase {len(ids)} person(s) as above? This cannot be undone", abort=True)
    reports = run(False)
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
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        states = remote.call("GET", f"/v1/consent/{_id(id)}")
    else:
        from empatia.privacy.consent import as_dict, current

        assert ws is not None
        states = as_dict(current(ws.store, id))
    t = Table("purpose", "granted", "since", "source", "legal basis")
    for purpose, s in states.items():
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
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        remote.call("POST", f"/v1/consent/{_id(id)}", json={"purpose": purpose,
                                                 "granted": granted, "legal_basis": legal_basis})
    else:
        from empatia.privacy.consent import record

        assert ws is not None
        record(ws.store, id, purpose, granted, legal_basis=legal_basis, source="cli")
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
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        if policies is not None:
            from empatia.errors import ConfigError

            raise ConfigError("the server owns the store and applies the workspace's own "
                              "policies: leave out --policies, or stop the server")  # fmt: skip
        rows = remote.call("POST", f"/admin/retention?dry_run={str(dry_run).lower()}")
    else:
        from empatia.privacy import retention

        assert ws is not None
        res = retention.apply(ws.store, retention.for_settings(ws.settings, policies),
                              dry_run=dry_run, actor="cli")  # fmt: skip
        rows = [r.__dict__ for r in res]
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
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        rep = remote.call("POST", "/admin/partners/export", json={
            "contract": str(contract.resolve()), "out": str(out.resolve()), "format": fmt})
    else:
        from empatia.privacy.partner_export import Contract, export_partner

        assert ws is not None
        rep = export_partner(ws.store, Contract.load(contract), out, fmt=fmt).__dict__
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
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        rows = remote.call("GET", "/admin/audit", params={"limit": limit,
                                                          **({"subject": subject} if subject else {})})
    else:
        from empatia.privacy.audit import entries

        assert ws is not None
        rows = entries(ws.store, subject, limit)
    t = Table("when", "who", "action", "subject", "detail")
    for r in rows:
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
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        d = remote.call("GET", f"/v1/profiling/{_id(id)}/next")
    else:
        from empatia.privacy.profiling import next_question

        assert ws is not None
        dec = next_question(ws.store, id)
        d = {"question": dec.question.__dict__ if dec.question else None, "stage": dec.stage,
             "reasons": dec.reasons}  # fmt: skip
    if d["question"]:
        console.print(f"ask [bold]{d['question']['id']}[/] ({d['stage']}): {d['question']['text']}")
    else:
        console.print("ask nothing now: " + "; ".join(d["reasons"]))


def keys_rotate(ctx: typer.Context, key_id: str) -> None:
    """Give a key a new secret (same name and scope); the old secret stops working.

    Example: empatia keys rotate k_1a2b3c4d
    """
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        k = remote.call("POST", f"/admin/keys/{_id(key_id)}/rotate")
        new_id, scope, secret = k["key_id"], k["scope"], k["secret"]
    else:
        from empatia.privacy.keys import rotate_key

        assert ws is not None
        new, secret = rotate_key(ws.store, key_id)
        new_id, scope = new.key_id, new.scope
    console.print(f"{key_id} revoked; {scope} key {new_id}: [bold]{secret}[/]")


def register(app: typer.Typer) -> None:
    app.add_typer(subject_app, name="subject")
    app.add_typer(consent_app, name="consent")
    app.add_typer(partner_app, name="partner")
    app.add_typer(profiling_app, name="profiling")
    app.command("retention")(retention_cmd)
    app.command("audit")(audit_cmd)
    for group in app.registered_groups:
        if group.name == "keys" and group.typer_instance is not None:
            group.typer_instance.command("rotate")(keys_rotate)
