"""FastAPI dependencies shared by every route: the workspace and the caller's key.

A key is read from ``Authorization: Bearer <secret>``, HTTP basic auth (the secret as user
name, as Segment clients send it), or the web UI's session cookie (``empatia.web.sessions``:
the cookie holds only a random session id; the key's secret stays in server memory).

    @router.get("/v1/profiles/{id}")
    def profile(id: str, ws: WorkspaceDep, key: ReadKey) -> ...
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from empatia.privacy.keys import SCOPES, ApiKey
from empatia.privacy.tenants import CURRENT, Tenants
from empatia.web.sessions import COOKIE as SESSION_COOKIE
from empatia.workspace import Workspace


async def get_workspace(request: Request) -> Workspace:
    """The caller's workspace: the one its key belongs to (the only one, when one is served)."""
    tenants: Tenants = request.app.state.tenants
    tenant = getattr(request.state, "tenant", None)
    if tenant is None:
        tenant = tenants.for_secret(presented_secret(request))
        request.state.tenant = tenant
        CURRENT.set(tenant)
    ws: Workspace = tenant.workspace
    return ws


def presented_secret(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            return base64.b64decode(value.strip()).decode().split(":", 1)[0] or None
        except (ValueError, UnicodeDecodeError):
            return None
    return request.app.state.sessions.secret(request.cookies.get(SESSION_COOKIE))


def require(scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency that authenticates the caller and checks the key allows ``scope``.

    The key also names the workspace: the request is bound to it from here on.
    """

    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")

    async def dependency(request: Request) -> ApiKey:
        tenants: Tenants = request.app.state.tenants
        secret = presented_secret(request)
        tenant = tenants.for_secret(secret)
        key = tenant.keyring.authenticate(secret, scope)
        request.state.key = key
        request.state.tenant = tenant
        CURRENT.set(tenant)
        return key

    return dependency


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
#: The key dependencies routes use, one per scope (see ``empatia.privacy.keys``).
WriteKey = Annotated[ApiKey, Depends(require("write"))]
ReadKey = Annotated[ApiKey, Depends(require("read"))]
CareKey = Annotated[ApiKey, Depends(require("care"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]
