"""`empatia serve --workspace a=… --workspace b=…`: one server, stores kept apart by key."""

from __future__ import annotations

from pathlib import Path

import httpx

from empatia.privacy.keys import create_key
from empatia.store import Store
from tests.conftest import ServerProcess, count_events


def test_two_workspaces_in_one_server_keep_their_events_apart(tmp_path: Path) -> None:
    dbs = {name: tmp_path / f"{name}.duckdb" for name in ("shop", "travel")}
    keys = {}
    for name, db in dbs.items():
        with Store(db) as s:
            keys[name] = create_key(s, "write")[1]
    args = tuple(a for name, db in dbs.items() for a in ("--workspace", f"{name}={db}"))
    srv = ServerProcess(tmp_path / "unused.duckdb", args).start()
    try:
        for name, n in (("shop", 3), ("travel", 1)):
            for i in range(n):
                r = httpx.post(srv.url + "/v1/track", auth=(keys[name], ""),
                               json={"userId": f"{name}-{i}", "event": "Booked"})  # fmt: skip
                assert r.status_code == 200, r.text
    finally:
        srv.stop()
    assert count_events(dbs["shop"]) == 3
    assert count_events(dbs["travel"]) == 1
