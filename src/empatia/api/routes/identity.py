"""Identity resolution over HTTP, for operators: borderline pairs, blocked identifiers, the
merge history (``empatia identity review|blocked|history`` while the server owns the store).

They list identifiers of many people at once, so they need an ``admin`` key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from empatia.api.deps import AdminKey, WorkspaceDep
from empatia.identity import views

router = APIRouter(prefix="/v1/identity", tags=["identity"])


@router.get("/review")
def review(
    ws: WorkspaceDep, _: AdminKey, limit: Annotated[int, Query(ge=1, le=10_000)] = 50
) -> list[dict[str, Any]]:
    """Open probabilistic pairs waiting for a decision, most likely first."""
    return views.review(ws.store, limit)


@router.get("/blocked")
def blocked(ws: WorkspaceDep, _: AdminKey) -> list[dict[str, Any]]:
    """Identifiers the over-merge guard blocked, and why."""
    return views.blocked(ws.store)


@router.get("/history")
def history(
    ws: WorkspaceDep,
    _: AdminKey,
    person_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    """Merges, splits and unmerges, newest first (of one person, or all)."""
    return views.history(ws.store, person_id, limit)
