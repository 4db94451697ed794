"""One person's unified profile over HTTP: ``GET /v1/profiles/{id}``.

Any identifier finds the person (``email:ada@example.com``, a phone, a user id, ``p_…``), as
``empatia profile ID`` and ``Workspace.profile`` do; reads are audited (``AuditMiddleware``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from empatia.api.deps import ReadKey, WorkspaceDep
from empatia.profiles.api import get_profile

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])


@router.get("/{id}")
def profile(id: str, ws: WorkspaceDep, _: ReadKey) -> dict[str, Any]:
    """The person's profile, identifiers, traits (with their sources) and merge history."""
    return get_profile(ws.store, id)
