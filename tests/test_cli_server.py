"""While ``empatia serve`` owns the store, every documented read command and ``empatia run``
work through it (a DuckDB file has one process at a time), and so do the commands that
change the store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from empatia.privacy.keys import create_key
from empatia.store import Store
from tests.conftest import ServerProcess


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("served") / "shop.duckdb"
    with Store(db) as s:
        _, secret = create_key(s, "write", "site")
    srv = ServerProcess(db).start(timeout=180)  # a busy machine starts it slowly
    events = [
        {"type": "identify", "userId": "u1", "messageId": "m1",
         "traits": {"email": "ada@example.com", "first_name": "Ada"}},
        {"type": "track", "userId": "u1", "event": "Product Viewed", "messageId": "m2",
         "properties": {"product_id": "P1"}},
        {"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "m3",
         "properties": {"order_id": "O1", "total": 12.5, "currency": "EUR"}},
    ]  # fmt: skip
    r = httpx.post(srv.url + "/v1/batch", json={"batch": events}, auth=(secret, ""), timeout=30)
    assert r.status_code == 200, r.text
    try:
        yield srv
    finally:
        srv.stop()


def empatia(srv: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, EMPATIA_DB=str(srv.db), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "empatia.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip


def test_run_goes_through_the_server(served: ServerProcess) -> None:
    p = empatia(served, "run")
    assert p.returncode == 0, p.stderr
    assert "identity" in p.stdout and "journeys" in p.stdout and "persons=1" in p.stdout
    p = empatia(served, "run", "--only", "nonsense")
    assert p.returncode == 2 and "nonsense" in p.stderr and "Traceback" not in p.stderr


READS = [
    ["stats"],
    ["profile", "email:ada@example.com"],
    ["profile", "user_id:u1", "--json"],
    ["decide", "email:ada@example.com"],
    ["experience", "scores"],
    ["experience", "excluded"],
    ["experience", "hurt"],
    ["experience", "hurt", "--orders"],
    ["experience", "effort"],
    ["experience", "gap"],
    ["experience", "touchpoints"],
    ["experience", "may-survey", "user_id:u1"],
    ["journeys", "funnel", "Product Viewed", "Order Completed"],
    ["journeys", "paths", "Product Viewed"],
    ["journeys", "map"],
    ["journeys", "stages", "list"],
    ["identity", "review"],
    ["identity", "history"],
    ["identity", "blocked"],
    ["care", "list"],
    ["care", "list", "--alerts"],
    ["care", "webhooks", "list"],
    ["care", "webhooks", "log"],
    ["keys", "list"],
    ["consent", "show", "user_id:u1"],
    ["audit"],
    ["retention", "--dry-run"],
]


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_read_commands_work_while_the_server_runs(served: ServerProcess, args: list[str]) -> None:
    p = empatia(served, *args)
    assert p.returncode == 0, p.stderr
    assert "in use" not in p.stderr and "owns this store" not in p.stderr


def test_the_profile_through_the_server_is_the_persons(served: ServerProcess) -> None:
    empatia(served, "run", "--only", "identity", "--only", "profiles")
    p = empatia(served, "profile", "email:ada@example.com")
    assert p.returncode == 0, p.stderr
    assert "ada@example.com" in p.stdout and "u1" in p.stdout and "12.5 EUR" in p.stdout


def test_a_command_that_changes_the_store_goes_through_the_server(served: ServerProcess) -> None:
    """More of them, and their effects, in tests/test_workspace_remote.py."""
    p = empatia(served, "decide", "--all")
    assert p.returncode == 0, p.stderr
    assert "decide --all" in p.stdout and "stop the server" not in p.stderr


def test_webhooks_are_added_and_removed_through_the_server(served: ServerProcess) -> None:
    p = empatia(served, "care", "webhooks", "add", "http://127.0.0.1:9/hook")
    assert p.returncode == 0, p.stderr
    hook = p.stdout.split()[1]
    assert hook.startswith("wh_") and "whsec_" in p.stdout
    p = empatia(served, "care", "webhooks", "remove", hook)
    assert p.returncode == 0 and f"removed {hook}" in p.stdout, p.stderr
    p = empatia(served, "care", "webhooks", "deliver")
    assert p.returncode == 0, p.stderr
