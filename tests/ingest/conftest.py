from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace


def basic(secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{secret}:".encode()).decode()}


@pytest.fixture
def keys(workspace: Workspace) -> dict[str, str]:
    return {scope: create_key(workspace.store, scope)[1] for scope in ("write", "read", "admin")}


@pytest.fixture
def client(workspace: Workspace, keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(workspace)) as c:
        yield c


def events(workspace: Workspace, where: str = "true") -> list[dict[str, object]]:
    cur = workspace.store.cursor()
    try:
        rel = cur.execute(f"select * from events where {where} order by seq")
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, row)) for row in rel.fetchall()]
    finally:
        cur.close()
