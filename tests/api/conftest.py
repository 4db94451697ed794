from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.privacy.keys import SCOPES, create_key
from empatia.workspace import Workspace


def make_keys(ws: Workspace) -> dict[str, str]:
    """A key of every scope, by scope."""
    return {scope: create_key(ws.store, scope, f"test-{scope}")[1] for scope in SCOPES}


@pytest.fixture
def two_workspaces(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    """One server, two workspaces (shop A and shop B), with keys for each."""
    a, b = Workspace(db=tmp_path / "a" / "a.duckdb"), Workspace(db=tmp_path / "b" / "b.duckdb")
    keys_a, keys_b = make_keys(a), make_keys(b)
    with TestClient(create_app(workspaces={"a": a, "b": b})) as c:
        yield c, keys_a, keys_b
    a.close()
    b.close()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def basic(secret: str) -> dict[str, str]:
    """How Segment clients send a write key (the tracking endpoints read only this)."""
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{secret}:".encode()).decode()}
