"""FastAPI dependencies shared by every route: the workspace and the caller's key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from empatia.workspace import Workspace


def get_workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
