"""Admin endpoints the CLI uses while the server owns the store (and operators may call)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from empatia.api.deps import AdminKey, TenantDep, TenantsDep, WorkspaceDep, WriterDep
from empatia.api.tenancy import Tenant
from empatia.errors import ConfigError, ForbiddenError, ValidationError
from empatia.ingest import import_files
from empatia.ingest.importer import file_format
from empatia.ingest.stats import event_stats
from empatia.pipeline import ordered_stages
from empatia.privacy.keys import create_key, list_keys, revoke_key
from empatia.privacy.retention import for_settings

router = APIRouter(prefix="/admin", tags=["admin"])


class ImportRequest(BaseModel):
    paths: list[str] = Field(
        max_length=1000, description="Files inside the workspace's folder (relative or absolute)"
    )


@router.post("/import")
async def import_(body: ImportRequest, tenants: TenantsDep, tenant: TenantDep,
                  _: AdminKey) -> Any:  # fmt: skip
    """Import files from the workspace's folder (the one holding its store); other files are
    refused: send them to ``/admin/import/upload`` instead."""
    paths = [tenants.confine(tenant, p, "the file") for p in body.paths]
    return await _import(tenant, paths)


@router.post("/import/upload")
async def import_upload(
    tenants: TenantsDep,
    tenant: TenantDep,
    request: Request,
    _: AdminKey,
    name: Annotated[str, Query(max_length=200, description="The file's name; its suffix says "
                               "the format: .jsonl/.ndjson, .csv or .parquet (optionally .gz)")],
) -> Any:  # fmt: skip
    """Import one file sent as the request body (up to 1 GiB, streamed to a private temporary
    folder, removed afterwards); rejected rows go to ``NAME.rejects.jsonl`` in the workspace's
    folder. Example:
    ``curl -X POST --data-binary @events.jsonl '…/admin/import/upload?name=events.jsonl'``."""
    safe = Path(name).name
    if not safe or safe != name:
        raise ValidationError(f"name {name!r} must be a plain file name, e.g. events.jsonl")
    file_format(Path(safe))  # an unknown suffix is refused before the body is read
    with tempfile.TemporaryDirectory(prefix="empatia-upload-") as tmp:
        path = Path(tmp) / safe
        with path.open("wb") as f:
            async for chunk in request.stream():  # capped by empatia.api.limits
                f.write(chunk)
        try:
            rejects: Path | None = tenants.folder(tenant)
        except ForbiddenError:
            rejects = None  # no folder of its own: the count is all the caller gets
        report = await _import(tenant, [path], rejects)
    for f in report["files"]:
        f["path"] = name
        f["reject_file"] = f["reject_file"] if rejects else None
    return report


async def _import(
    tenant: Tenant, paths: list[Path], reject_dir: Path | None = None
) -> dict[str, Any]:
    ws = tenant.workspace
    fut = tenant.writer.call(lambda: import_files(
        ws.store, paths, max_event_bytes=ws.settings.max_event_bytes, reject_dir=reject_dir,
        policies=for_settings(ws.settings)))  # fmt: skip
    report = await asyncio.wrap_future(fut)
    return {
        "files": [dict(f.__dict__) for f in report.files],
        "accepted": report.accepted,
        "rejected": report.rejected,
        "duplicates": report.duplicates,
        "seconds": report.seconds,
        "outside_retention": report.outside_retention,
        "retention_notice": report.retention_notice,
    }


@router.get("/stats")
async def stats(ws: WorkspaceDep, _: AdminKey) -> Any:
    return event_stats(ws.store)


class KeyCreate(BaseModel):
    scope: str
    name: str = ""


@router.post("/keys")
async def keys_create(body: KeyCreate, tenant: TenantDep, _: AdminKey) -> Any:
    fut = tenant.writer.call(lambda: create_key(tenant.workspace.store, body.scope, body.name))
    key, secret = await asyncio.wrap_future(fut)
    tenant.keyring.refresh()
    return {"key_id": key.key_id, "scope": key.scope, "name": key.name, "secret": secret}


@router.get("/keys")
async def keys_list(ws: WorkspaceDep, _: AdminKey) -> Any:
    return [k.__dict__ for k in list_keys(ws.store)]


@router.delete("/keys/{key_id}")
async def keys_revoke(key_id: str, tenant: TenantDep, _: AdminKey) -> Any:
    fut = tenant.writer.call(lambda: revoke_key(tenant.workspace.store, key_id))
    await asyncio.wrap_future(fut)
    tenant.keyring.refresh()
    return {"revoked": key_id}


class RunRequest(BaseModel):
    only: list[str] | None = Field(None, max_length=50, description="Run only these stages "
                                   "(and nothing else); all of them when left out")
    full: bool = Field(False, description="Rebuild from scratch instead of incrementally")


@router.post("/run")
async def run(body: RunRequest, ws: WorkspaceDep, writer: WriterDep, _: AdminKey) -> Any:
    """Run the pipeline on the server's store (``empatia run`` goes through here while the
    server owns the store); answers each stage's ``seconds`` and ``figures``. It runs on the
    writer thread, so events sent meanwhile are committed after it."""
    try:
        ordered_stages(body.only)
    except ConfigError as e:  # an unknown stage named in the body
        raise ValidationError(e.message, **e.details) from e
    fut = writer.call(lambda: ws.run(only=body.only, full=body.full))
    return await asyncio.wrap_future(fut)
