"""Special care over HTTP: the list, one person's case, alerts, acknowledge/resolve, webhooks.

A ``read`` (or ``care``) key sees explanations and evidence references but never customers' own
words; an ``admin`` key sees the quotes too (see ``empatia.care.explain``). Acknowledging and
resolving change the list, so they need a ``care`` key (what CX agents get) or ``admin``; the
key id is kept as actor. Webhooks (they hold signing secrets) need ``admin``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from empatia import care
from empatia.api.deps import AdminKey, CareKey, ReadKey, WorkspaceDep
from empatia.privacy.keys import ApiKey
from empatia.care.alerts import act
from empatia.care.config import load_weights
from empatia.care.delivery import deliveries

router = APIRouter(prefix="/v1/care", tags=["care"])
Limit = Annotated[int, Query(ge=0, le=10_000, description="How many rows at most.")]


class Note(BaseModel):
    note: str | None = Field(None, max_length=2000, description="What was done or decided.")


class WebhookCreate(BaseModel):
    url: str = Field(description="http(s) URL that receives signed JSON alerts.")
    secret: str | None = Field(None, description="Signing secret; generated when left out.")
    min_score: float = Field(0.0, ge=0, le=1, description="Only alerts at or above this score.")


@router.get("")
def care_list(
    ws: WorkspaceDep, key: ReadKey, limit: Limit = 50, status: str | None = None
) -> list[dict[str, Any]]:
    """The ranked special-care list of the latest run."""
    rows = care.care_list(ws.store.cursor(), limit, _viewer(key), status)
    if rows and rows[0]["text_visible"]:
        _audit(ws, key.key_id, None)
    return rows


@router.get("/alerts")
def alerts(
    ws: WorkspaceDep, key: ReadKey, status: str | None = None, limit: Limit = 100
) -> list[dict[str, Any]]:
    return care.alerts(ws.store.cursor(), status, limit)


@router.post("/alerts/{alert_or_person}/{action}")
def alert_action(
    alert_or_person: str, action: str, body: Note, ws: WorkspaceDep, key: CareKey
) -> dict[str, Any]:
    """``action``: ``ack`` (someone is on it) or ``resolve`` (leaves the list until news)."""
    verb = {"ack": "acknowledged", "acknowledge": "acknowledged", "resolve": "resolved"}.get(
        action, action
    )
    return act(ws.store.cursor(), alert_or_person, verb, body.note, key.key_id)


@router.get("/webhooks")
def webhooks(ws: WorkspaceDep, key: AdminKey) -> list[dict[str, Any]]:
    return care.list_webhooks(ws.store.cursor())


@router.post("/webhooks", status_code=201)
def add_webhook(body: WebhookCreate, ws: WorkspaceDep, key: AdminKey) -> dict[str, Any]:
    """Register a webhook; the answer holds its signing secret, shown this once."""
    return care.add_webhook(ws.store.cursor(), body.url, body.secret, body.min_score)


@router.delete("/webhooks/{webhook_id}", status_code=204)
def remove_webhook(webhook_id: str, ws: WorkspaceDep, key: AdminKey) -> None:
    care.remove_webhook(ws.store.cursor(), webhook_id)


@router.post("/deliver")
def deliver(ws: WorkspaceDep, key: AdminKey) -> dict[str, int]:
    """Deliver pending alerts now (the stage does this after every run)."""
    return care.deliver_pending(ws.store.cursor(),
                                load_weights(settings=ws.settings.stages.care).delivery)


@router.get("/deliveries")
def delivery_log(
    ws: WorkspaceDep, key: AdminKey, alert_id: str | None = None, limit: Limit = 100
) -> list[dict[str, Any]]:
    return deliveries(ws.store.cursor(), alert_id, limit)


@router.get("/{person_id}")
def entry(person_id: str, ws: WorkspaceDep, key: ReadKey) -> dict[str, Any]:
    """One person's case with its evidence (quotes only for keys allowed to see them)."""
    out = care.entry(ws.store.cursor(), person_id, _viewer(key))
    if out["text_visible"]:
        _audit(ws, key.key_id, person_id)
    return {**out, "history": care.history(ws.store.cursor(), person_id)}


def _viewer(key: ApiKey) -> str:
    """Quotes are for admin keys; every other key views as ``read``."""
    return "admin" if key.scope == "admin" else "read"


def _audit(ws: Any, key_id: str, person_id: str | None) -> None:
    """Reading customers' own words is logged (privacy audit), when privacy is installed."""
    try:
        from empatia.privacy import audit
    except ModuleNotFoundError:  # pragma: no cover - privacy not installed
        return
    audit.log(ws.store, f"key:{key_id}", "read", person_id, "care evidence with quotes")
