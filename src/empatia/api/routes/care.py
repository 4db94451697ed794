"""Special care over HTTP: the list, one person's case, alerts, acknowledge/resolve, webhooks.

A ``read`` (or ``care``) key sees explanations and evidence references but never customers' own
words; an ``admin`` key sees the quotes too (see ``empatia.care.explain``). Acknowledging and
resolving change the list, so they need a ``care`` key (what CX agents get) or ``admin``; the
key id is kept as actor. Webhooks (they hold signing secrets) need ``admin``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import duckdb
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from empatia import care
from empatia.api.deps import AdminKey, CareKey, ReadKey, WorkspaceDep, WriterDep
from empatia.api.writer import PrivacyWriter
from empatia.care.alerts import act
from empatia.care.config import load_weights
from empatia.care.delivery import deliveries
from empatia.privacy.keys import ApiKey
from empatia.workspace import Workspace

router = APIRouter(prefix="/v1/care", tags=["care"])
Limit = Annotated[int, Query(ge=0, le=10_000, description="How many rows at most.")]
T = TypeVar("T")


class Note(BaseModel):
    note: str | None = Field(None, max_length=2000, description="What was done or decided.")


class WebhookCreate(BaseModel):
    url: str = Field(description="http(s) URL that receives signed JSON alerts.")
    secret: str | None = Field(None, description="Signing secret; generated when left out.")
    min_score: float = Field(0.0, ge=0, le=1, description="Only alerts at or above this score.")


def _read(ws: Workspace, fn: Callable[..., T], *args: Any) -> T:
    """``fn(cursor, *args)`` on a short-lived read cursor (closed whatever happens)."""
    with ws.store.read() as cur:
        return fn(cur, *args)


async def _write(writer: PrivacyWriter, ws: Workspace,
                 fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:  # fmt: skip
    """``fn(cursor)`` on the workspace's writer, in one transaction (rolled back on error)."""

    def work() -> T:
        with ws.store.write() as cur:
            return fn(cur)

    return await asyncio.wrap_future(writer.call(work))


@router.get("")
async def care_list(
    ws: WorkspaceDep, writer: WriterDep, key: ReadKey, limit: Limit = 50,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """The ranked special-care list of the latest run."""
    rows = await run_in_threadpool(_read, ws, care.care_list, limit, _viewer(key), status)
    if rows and rows[0]["text_visible"]:
        await _audit(writer, ws, key.key_id, None)
    return rows


@router.get("/alerts")
def alerts(
    ws: WorkspaceDep, key: ReadKey, status: str | None = None, limit: Limit = 100
) -> list[dict[str, Any]]:
    return _read(ws, care.alerts, status, limit)


@router.post("/alerts/{alert_or_person}/{action}")
async def alert_action(
    alert_or_person: str, action: str, body: Note, ws: WorkspaceDep, writer: WriterDep,
    key: CareKey,
) -> dict[str, Any]:
    """``action``: ``ack`` (someone is on it) or ``resolve`` (leaves the list until news)."""
    verb = {"ack": "acknowledged", "acknowledge": "acknowledged", "resolve": "resolved"}.get(
        action, action
    )
    return await _write(writer, ws, lambda cur: act(cur, alert_or_person, verb, body.note,
                                                    key.key_id))  # fmt: skip


@router.get("/webhooks")
def webhooks(ws: WorkspaceDep, key: AdminKey) -> list[dict[str, Any]]:
    return _read(ws, care.list_webhooks)


@router.post("/webhooks", status_code=201)
async def add_webhook(
    body: WebhookCreate, ws: WorkspaceDep, writer: WriterDep, key: AdminKey
) -> dict[str, Any]:
    """Register a webhook; the answer holds its signing secret, shown this once."""
    return await _write(writer, ws, lambda cur: care.add_webhook(cur, body.url, body.secret,
                                                                 body.min_score))  # fmt: skip


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def remove_webhook(
    webhook_id: str, ws: WorkspaceDep, writer: WriterDep, key: AdminKey
) -> None:
    await _write(writer, ws, lambda cur: care.remove_webhook(cur, webhook_id))


@router.post("/deliver")
async def deliver(ws: WorkspaceDep, writer: WriterDep, key: AdminKey) -> dict[str, int]:
    """Deliver pending alerts now (the stage does this after every run), on the writer as the
    stage does: each delivery is logged as it happens, so a failure keeps what was sent."""
    settings = load_weights(settings=ws.settings.stages.care).delivery
    return await asyncio.wrap_future(
        writer.call(lambda: care.deliver_pending(ws.store.con, settings))
    )


@router.get("/deliveries")
def delivery_log(
    ws: WorkspaceDep, key: AdminKey, alert_id: str | None = None, limit: Limit = 100
) -> list[dict[str, Any]]:
    return _read(ws, deliveries, alert_id, limit)


@router.get("/{person_id}")
async def entry(
    person_id: str, ws: WorkspaceDep, writer: WriterDep, key: ReadKey
) -> dict[str, Any]:
    """One person's case with its evidence (quotes only for keys allowed to see them)."""

    def read() -> dict[str, Any]:
        with ws.store.read() as cur:
            out = care.entry(cur, person_id, _viewer(key))
            return {**out, "history": care.history(cur, person_id)}

    out = await run_in_threadpool(read)
    if out["text_visible"]:
        await _audit(writer, ws, key.key_id, person_id)
    return out


def _viewer(key: ApiKey) -> str:
    """Quotes are for admin keys; every other key views as ``read``."""
    return "admin" if key.scope == "admin" else "read"


async def _audit(writer: PrivacyWriter, ws: Workspace, key_id: str, person_id: str | None) -> None:
    """Reading customers' own words is logged (privacy audit), through the writer."""
    from empatia.privacy import audit

    await asyncio.wrap_future(writer.call(
        lambda: audit.log(ws.store, f"key:{key_id}", "read", person_id, "care evidence with quotes")
    ))  # fmt: skip
