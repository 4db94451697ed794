"""Privacy endpoints: access and erasure, consent, progressive profiling, audit, retention.

Scopes: recording consent or a profiling answer for a person named in the URL is *care* (an
agent, a signed form, the shop's own back end — never the public write key, which could speak
for anyone; a person's own browser sends consent as events: ``docs/consent.md``); reading a
person's consent or next question is *read*; everything that exports or erases personal data,
and the audit log, is *admin*.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from empatia.api.deps import (
    AdminKey,
    CareKey,
    ReadKey,
    TenantDep,
    TenantsDep,
    WorkspaceDep,
    WriterDep,
)
from empatia.api.writer import PrivacyWriter
from empatia.errors import ConfigError, ValidationError
from empatia.privacy import audit, consent, profiling, retention
from empatia.privacy.access import export_subject
from empatia.privacy.erasure import erase
from empatia.privacy.keys import rotate_key
from empatia.privacy.partner_export import Contract, export_partner

router = APIRouter(tags=["privacy"])
T = TypeVar("T")


async def _on_writer(writer: PrivacyWriter, fn: Callable[[], T]) -> T:
    """Run a write on the workspace's writer thread (DuckDB has one writer)."""
    return await asyncio.wrap_future(writer.call(fn))


# -- access and erasure -----------------------------------------------------------------------
@router.get("/v1/subjects/{id}")
async def subject_access(id: str, ws: WorkspaceDep, writer: WriterDep, key: AdminKey,
                         request: Request) -> Any:  # fmt: skip
    """Everything held about a person (right of access), found by any identifier."""
    request.state.audited = True  # its own audit entry (an export): not a plain read
    return await _on_writer(
        writer, lambda: export_subject(ws.store, id, actor=f"key:{key.key_id}")
    )


@router.delete("/v1/subjects/{id}")
async def subject_erase(id: str, tenant: TenantDep, key: AdminKey,
                        dry_run: bool = False) -> Any:  # fmt: skip
    """Erase a person everywhere (right to erasure); later events for them are dropped.

    404 when the id names nobody (nothing changes); ``dry_run=true`` reports what would be
    deleted and blanked without changing anything."""

    def job() -> dict[str, object]:
        try:
            report = erase(tenant.workspace.store, id, actor=f"key:{key.key_id}", dry_run=dry_run)
        finally:
            tenant.tombstones.refresh()
        return report.as_dict()

    return await _on_writer(tenant.writer, job)


# -- consent -------------------------------------------------------------------------------
class ConsentIn(BaseModel):
    purpose: str = Field(description=f"One of {', '.join(consent.PURPOSES)} (or marketing + channel)")
    granted: bool
    channel: str | None = None
    legal_basis: str | None = "consent"
    at: datetime | None = None


@router.post("/v1/consent/{id}")
async def consent_record(id: str, body: ConsentIn, ws: WorkspaceDep, writer: WriterDep,
                         key: CareKey) -> Any:  # fmt: skip
    """Record one consent decision for a person (person id, or user_id:… before stitching).

    The ledger is append-only: a withdrawal is a new record with ``granted: false``.
    """
    state = await _on_writer(writer, lambda: consent.record(
        ws.store, id, body.purpose, body.granted, channel=body.channel,
        legal_basis=body.legal_basis, source=f"api:{key.key_id}", at=body.at,
    ))  # fmt: skip
    return {"subject": id, "purpose": state.purpose, "granted": state.granted}


@router.get("/v1/consent/{id}")
async def consent_show(id: str, ws: WorkspaceDep, _: ReadKey) -> Any:
    """A person's current consent per purpose (defaults filled in)."""
    return consent.as_dict(consent.current(ws.store, id))


@router.get("/v1/consent/{id}/{purpose}")
async def consent_check(id: str, purpose: str, ws: WorkspaceDep, _: ReadKey,
                        channel: str | None = None) -> Any:  # fmt: skip
    """Whether a person allows one purpose now."""
    return {"allowed": consent.check(ws.store, id, purpose, channel)}


# -- progressive profiling ----------------------------------------------------------------
@router.get("/v1/profiling/{id}/next")
async def profiling_next(id: str, ws: WorkspaceDep, _: ReadKey) -> Any:
    """At most one question to ask this person now, and why (not)."""
    d = profiling.next_question(ws.store, id)
    return {"question": d.question.__dict__ if d.question else None, "stage": d.stage,
            "reasons": d.reasons}  # fmt: skip


class AnswerIn(BaseModel):
    question_id: str
    value: str | None = None
    declined: bool = False


@router.post("/v1/profiling/{id}/answers")
async def profiling_answer(id: str, body: AnswerIn, ws: WorkspaceDep, writer: WriterDep,
                           _: CareKey) -> Any:  # fmt: skip
    """Record an answer (it becomes a trait, with consent for its purpose) or a refusal."""
    await _on_writer(writer, lambda: profiling.record_answer(
        ws.store, id, body.question_id, body.value, declined=body.declined))  # fmt: skip
    return {"recorded": True}


# -- admin: audit, retention, partner exports, key rotation --------------------------------
@router.get("/admin/audit")
async def audit_log(ws: WorkspaceDep, _: AdminKey, subject: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> Any:  # fmt: skip
    """Who read, exported or erased whose data."""
    return audit.entries(ws.store, subject, limit)


@router.post("/admin/retention")
async def retention_apply(ws: WorkspaceDep, writer: WriterDep, key: AdminKey,
                          dry_run: bool = True) -> Any:  # fmt: skip
    """Apply the retention policies (``dry_run=false``) or report what they would delete."""
    results = await _on_writer(writer, lambda: retention.apply(
        ws.store, retention.for_settings(ws.settings), dry_run=dry_run, actor=f"key:{key.key_id}"))
    return [r.__dict__ for r in results]


class PartnerExportIn(BaseModel):
    contract: str = Field(description="The contract TOML: a path inside the workspace's folder")
    out: str = Field(description="Where the server writes the file: inside the workspace's folder")
    audience: list[str] | None = None
    format: str | None = None


@router.post("/admin/partners/export")
async def partner_export(body: PartnerExportIn, tenants: TenantsDep, tenant: TenantDep,
                         key: AdminKey) -> Any:  # fmt: skip
    """Export consenting people's contracted fields for a partner.

    Both paths are server paths, so both must lie inside the workspace's folder (the one
    holding its store); anything else is refused (403) with the folder named."""
    contract_path = tenants.confine(tenant, body.contract, "the contract")
    out = tenants.confine(tenant, body.out, "the export file")
    try:
        contract = Contract.load(contract_path)
        rep = await _on_writer(tenant.writer, lambda: export_partner(
            tenant.workspace.store, contract, out, audience=body.audience, fmt=body.format or None,
            actor=f"key:{key.key_id}"))  # fmt: skip
    except ConfigError as e:  # the contract and paths come from the caller here
        raise ValidationError(e.message, **e.details) from e
    except OSError as e:
        raise ValidationError(f"cannot write {body.out!r}: {e.strerror}") from e
    return rep.__dict__


@router.post("/admin/keys/{key_id}/rotate")
async def keys_rotate(key_id: str, tenant: TenantDep, _: AdminKey) -> Any:
    """A new secret for a key (same name and scope); the old one stops working."""
    new, secret = await _on_writer(tenant.writer, lambda: rotate_key(tenant.workspace.store, key_id))
    tenant.keyring.refresh()
    return {"key_id": new.key_id, "scope": new.scope, "name": new.name, "secret": secret,
            "revoked": key_id}  # fmt: skip
