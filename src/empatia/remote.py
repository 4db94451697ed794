"""The running server that owns a store, reached with the local admin secret it left beside it.

A DuckDB file has one process at a time: while ``empatia serve`` runs, it writes
``<db>.server.json`` (mode 0600) with its address and a per-run admin secret. The CLI and the
:class:`~empatia.workspace.Workspace` then hand their work to it instead of opening the file:

    remote = Remote.for_store("shop.duckdb")      # None when no server owns it
    remote.workspace("profile", {"identifier": "email:ada@example.com"})
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from empatia.errors import EmpatiaError, StoreError

#: The media type Arrow tables travel as (an Arrow IPC stream).
ARROW_STREAM = "application/vnd.apache.arrow.stream"


def server_info_path(db: Path | str) -> Path:
    """Where a running server leaves its address and local admin secret."""
    return Path(str(db) + ".server.json")


class ServerGoneError(StoreError):
    """The server named in ``<db>.server.json`` did not take the request (nothing was sent)."""

    code = "server_gone"


class Remote:
    """The running server that owns the store, reached with its local admin secret."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=None
        )

    @classmethod
    def for_store(cls, db: Path | str) -> Remote | None:
        """The server that owns ``db``, from the file it left beside it; None when there is none."""
        try:
            info = orjson.loads(server_info_path(db).read_bytes())
            return cls(str(info["url"]), str(info["token"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def call(self, method: str, path: str, **kw: Any) -> Any:
        """An HTTP call answered with JSON; an error answer is raised as the server's error."""
        return self._request(method, path, **kw).json()

    def workspace(self, name: str, kwargs: dict[str, Any]) -> Any:
        """``Workspace.<name>(**kwargs)`` run by the server (``POST /admin/workspace/{name}``):
        Arrow tables come back as ``pyarrow.Table``, everything else as JSON values."""
        body = orjson.dumps(kwargs, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
        r = self._request("POST", f"/admin/workspace/{name}", content=body,
                          headers={"Content-Type": "application/json"})  # fmt: skip
        if r.headers.get("content-type", "").startswith(ARROW_STREAM):
            import pyarrow as pa

            with pa.ipc.open_stream(r.content) as reader:
                return reader.read_all()
        return r.json()

    def import_files(self, db: Path | str, files: list[Path],
                     progress: Callable[[Any], None] | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Import event files; each file's report. Files in the store's folder are named to the
        server; others are sent as the body (the server reads no path outside that folder)."""
        folder = Path(db).resolve().parent
        inside = [str(f.resolve()) for f in files if f.resolve().is_relative_to(folder)]
        out = _reported(self.call("POST", "/admin/import", json={"paths": inside})["files"],
                        progress) if inside else []  # fmt: skip
        for f in (f for f in files if not f.resolve().is_relative_to(folder)):
            with f.open("rb") as body:
                out += _reported(self.call("POST", "/admin/import/upload", params={"name": f.name},
                                           content=body)["files"], progress)  # fmt: skip
        return out

    def retention(self, dry_run: bool) -> list[dict[str, Any]]:
        """Apply the server's retention policies (``dry_run``: count what would go)."""
        return self.call("POST", "/admin/retention",  # type: ignore[no-any-return]
                         params={"dry_run": str(dry_run).lower()})  # fmt: skip

    def export_partner(self, contract: Path, out: Path, fmt: str | None) -> dict[str, Any]:
        """A partner export written by the server: both paths must lie in the store's folder."""
        return self.call("POST", "/admin/partners/export",  # type: ignore[no-any-return]
                         json={"contract": str(contract.resolve()), "out": str(out.resolve()),
                               "format": fmt})  # fmt: skip

    def close(self) -> None:
        self.client.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self.client.request(method, path, **kw)
        except httpx.ConnectError as e:
            raise ServerGoneError(f"the server at {self.url} owns the store but does not answer "
                                  f"({type(e).__name__}); is `empatia serve` still starting or "
                                  "stuck? Try again, or stop it", url=self.url) from e  # fmt: skip
        except httpx.HTTPError as e:
            raise StoreError(f"the server at {self.url} owns the store but does not answer "
                             f"({type(e).__name__}); is `empatia serve` still starting or stuck? "
                             "Try again, or stop it", url=self.url) from e  # fmt: skip
        if r.status_code >= 400:
            raise error_from_answer(r)
        return r


def _reported(files: list[dict[str, Any]],
              progress: Callable[[Any], None] | None) -> list[dict[str, Any]]:
    """``files`` (file reports), each told to ``progress`` first."""
    if progress is not None:
        for f in files:
            progress(f)
    return files


def error_from_answer(r: httpx.Response) -> EmpatiaError:
    """The server's error answer as the library error it was (same class, message, details)."""
    body: dict[str, Any] = {}
    if r.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = r.json()
            body = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            body = {}
    code = body.pop("code", None)
    message = str(body.pop("message", None) or f"server answered {r.status_code}")
    cls = _error_classes().get(code) if isinstance(code, str) else None
    error = (cls or EmpatiaError).__new__(cls or EmpatiaError)
    EmpatiaError.__init__(error, message, **body)  # not the class's own: it may take other args
    if cls is None:
        error.exit_code = 2 if r.status_code in (400, 413, 422) else 1
    error.http_status = r.status_code
    return error


def _error_classes() -> dict[str, type[EmpatiaError]]:
    """Every error class by its ``code``, the most general first (a subclass that keeps its
    parent's code does not replace it)."""
    found: dict[str, type[EmpatiaError]] = {}
    todo: list[type[EmpatiaError]] = [EmpatiaError]
    while todo:
        cls = todo.pop(0)
        found.setdefault(cls.code, cls)
        todo += cls.__subclasses__()
    return found
