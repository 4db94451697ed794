"""FastAPI dependencies shared by every route: the workspace and the caller's key.

A key is read from ``Authorization: Bearer <secret>``, HTTP basic auth (the secret as user
name, as Segment clients send it), or the ``empatia_key`` cookie the web UI sets at sign-in.

    @router.get("/v1/profiles/{id}")
    def profile(id: str, ws: WorkspaceDep, key: ReadKey) -> ...
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from empatia.privacy.keys import ApiKey
from empatia.workspace import Workspace


def get_workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
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
    return request.cookies.get("empatia_key")


def require(scope: str) -> Callable[[Request], ApiKey]:
    """A dependency that authenticates the caller and checks the key allows ``scope``."""

    def dependency(request: Request) -> ApiKey:
        key: ApiKey = request.app.state.keyring.authenticate(presented_secret(request), scope)
        request.state.key = key
        return key

    return dependency


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
ReadKey = Annotated[ApiKey, Depends(require("read"))]
WriteKey = Annotated[ApiKey, Depends(require("write"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]
