"""The HTTP application: built by :func:`create_app` from a workspace, no globals.

The server owns the store while it runs: all writes go through one
:class:`~empatia.ingest.writer.EventWriter`. It leaves a ``<db>.server.json`` file (mode 0600)
with its address and a per-run admin secret, so the CLI can hand work to it instead of
fighting over DuckDB's single write lock.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from empatia.errors import EmpatiaError
from empatia.ingest.writer import EventWriter
from empatia.privacy.keys import KeyRing, hash_secret
from empatia.workspace import Workspace

log = logging.getLogger(__name__)

#: Routers included in every app; stage packages add theirs here.
ROUTERS: tuple[str, ...] = (
    "empatia.api.routes.ingest",
    "empatia.api.routes.admin",
    "empatia.api.routes.profiles",
    "empatia.api.routes.emotion",
    "empatia.api.routes.experience",
    "empatia.api.routes.journeys",
    "empatia.api.routes.care",
    "empatia.api.routes.decide",
    "empatia.api.routes.privacy",
    "empatia.web.routes",
)


def server_info_path(db: Path | str) -> Path:
    return Path(str(db) + ".server.json")


def _json_error(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_app(workspace: Workspace | None = None, *, advertise: str | None = None) -> FastAPI:
    """Build the app for ``workspace``; ``advertise`` (a URL) writes the server-info file."""
    ws = workspace or Workspace()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ws.store
        store.con.execute("set checkpoint_threshold = '1GB'")  # checkpoint when quiet, not per commit
        app.state.keyring = KeyRing(store)
        hooks = [h for h in (_identity_hook(store),) if h]
        app.state.writer = EventWriter(store, after_commit=hooks[0] if hooks else None)
        info = None
        if advertise and str(ws.settings.db) != ":memory:":
            info = server_info_path(ws.settings.db)
            admin_secret = "emp_admin_" + secrets.token_urlsafe(24)
            app.state.keyring.add_ephemeral(hash_secret(admin_secret), "server-local", "admin")
            fd = os.open(info, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps({"url": advertise, "pid": os.getpid(), "token": admin_secret}))
        try:
            yield
        finally:
            app.state.writer.close()
            if info is not None:
                info.unlink(missing_ok=True)
            try:
                store.checkpoint()
            except Exception:  # noqa: BLE001
                log.warning("checkpoint at shutdown failed")

    app = FastAPI(
        title="Empatia",
        version=_version(),
        lifespan=lifespan,
        description="Customer-experience engine: tracking, profiles, experience, decisions.",
    )
    app.state.workspace = ws
    app.state.settings = ws.settings

    @app.exception_handler(EmpatiaError)
    async def empatia_error(request: Request, exc: EmpatiaError) -> Response:
        return _json_error(exc.http_status, exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _json_error(400, {"code": "invalid", "message": problems})

    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": _version()}

    for module in ROUTERS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        app.include_router(mod.router)
    return app


def _identity_hook(store: Any) -> Any:
    """Attach new events to their person right after each commit, when identity exists."""
    try:
        from empatia.identity.incremental import attach_new_events
    except ModuleNotFoundError:
        return None

    def hook() -> None:
        attach_new_events(store)

    return hook


def _version() -> str:
    from empatia import __version__

    return __version__


def serve(workspace: Workspace, host: str | None = None, port: int | None = None) -> None:
    """Run the server until interrupted (``empatia serve``)."""
    import uvicorn

    host = host or workspace.settings.host
    port = port or workspace.settings.port
    url = f"http://{host}:{port}"
    app = create_app(workspace, advertise=url)
    uvicorn.run(
        app, host=host, port=port, access_log=False, log_level="warning",
        loop="uvloop", http="httptools",
    )  # fmt: skip
