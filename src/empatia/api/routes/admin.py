"""Admin endpoints the CLI uses while the server owns the store (and operators may call)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from empatia.api.deps import AdminKey, WorkspaceDep
from empatia.ingest import import_files
from empatia.ingest.stats import event_stats
from empatia.privacy.keys import create_key, list_keys, revoke_key

router = APIRouter(prefix="/admin", tags=["admin"])


class ImportRequest(BaseModel):
    paths: list[str]


@router.post("/import")
async def import_(body: ImportRequest, ws: WorkspaceDep, request: Request, _: AdminKey) -> Any:
    """Import files that this server can read (the CLI sends absolute paths)."""
    writer = request.app.state.writer
    fut = writer.call(lambda: import_files(ws.store, [Path(p) for p in body.paths]))
    report = await asyncio.wrap_future(fut)
    return {
        "files": [f.__dict__ for f in report.files],
        "accepted": report.accepted,
        "rejected": report.rejected,
        "duplicates": report.duplicates,
        "seconds": report.seconds,
    }


@router.get("/stats")
async def stats(ws: WorkspaceDep, _: AdminKey) -> Any:
    return event_stats(ws.store)


class KeyCreate(BaseModel):
    scope: str
    name: str = ""


@router.post("/keys")
async def keys_create(body: KeyCreate, ws: WorkspaceDep, request: Request, _: AdminKey) -> Any:
    fut = request.app.state.writer.call(lambda: create_key(ws.store, body.scope, body.name))
    key, secret = await asyncio.wrap_future(fut)
    request.app.state.keyring.refresh()
    return {"key_id": key.key_id, "scope": key.scope, "name": key.name, "secret": secret}


@router.get("/keys")
async def keys_list(ws: WorkspaceDep, _: AdminKey) -> Any:
    return [k.__dict__ for k in list_keys(ws.store)]


@router.delete("/keys/{key_id}")
async def keys_revoke(key_id: str, ws: WorkspaceDep, request: Request, _: AdminKey) -> Any:
    fut = request.app.state.writer.call(lambda: revoke_key(ws.store, key_id))
    await asyncio.wrap_future(fut)
    request.app.state.keyring.refresh()
    return {"revoked": key_id}
