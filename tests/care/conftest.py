"""Fixtures for special care: a store with the small world, fast-retry weights, receivers."""

from __future__ import annotations

import copy
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from empatia.care.config import CareWeights, load_weights
from empatia.store import Store
from tests.care.world import World, build


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The small world built once; each test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("care") / "template.duckdb"
    with Store(path) as s:
        texts = build(s).texts
        s.checkpoint()
    return path, texts


@pytest.fixture
def cstore(tmp_path: Path, template: tuple[Path, dict[str, Any]]) -> Iterator[Store]:
    shutil.copy(template[0], tmp_path / "care.duckdb")
    s = Store(tmp_path / "care.duckdb")
    yield s
    s.close()


@pytest.fixture
def world(cstore: Store, template: tuple[Path, dict[str, Any]]) -> World:
    w = World(cstore)
    w.texts = copy.deepcopy(template[1])
    return w


@pytest.fixture
def weights() -> CareWeights:
    return load_weights(overrides={"delivery": {"backoff_seconds": 0.01, "max_attempts": 4,
                                                "timeout_seconds": 5}})  # fmt: skip


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests; fails the first ``fail_first``."""

    def __init__(self, fail_first: int = 0, status: int = 500) -> None:
        self.fail_first, self.status = fail_first, status
        self.requests: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                item = {"body": body, "headers": dict(self.headers)}
                rec.requests.append(item)
                if len(rec.requests) <= rec.fail_first:
                    self.send_response(rec.status)
                    self.end_headers()
                    self.wfile.write(b"try again")
                    return
                rec.delivered.append(item)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def flaky_receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.close()


@pytest.fixture
def dead_receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=10**6, status=503)
    yield r
    r.close()
