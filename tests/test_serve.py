"""`empatia serve --workspace a=… --workspace b=…`: one server, stores kept apart by key."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from empatia.privacy.keys import create_key
from empatia.store import Store
from tests.conftest import count_events, free_port


def test_two_workspaces_in_one_server_keep_their_events_apart(tmp_path: Path) -> None:
    dbs = {name: tmp_path / f"{name}.duckdb" for name in ("shop", "travel")}
    keys = {}
    for name, db in dbs.items():
        with Store(db) as s:
            keys[name] = create_key(s, "write")[1]
    port = free_port()
    args = [a for name, db in dbs.items() for a in ("--workspace", f"{name}={db}")]
    proc = subprocess.Popen([sys.executable, "-m", "empatia.cli", "serve", "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        for name, n in (("shop", 3), ("travel", 1)):
            for i in range(n):
                r = httpx.post(url + "/v1/track", auth=(keys[name], ""),
                               json={"userId": f"{name}-{i}", "event": "Booked"})  # fmt: skip
                assert r.status_code == 200, r.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert count_events(dbs["shop"]) == 3
    assert count_events(dbs["travel"]) == 1
