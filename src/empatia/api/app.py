"""The HTTP application: built by :func:`create_app` from a workspace, no globals.

The server owns the store while it runs: all writes go through one
:class:`~empatia.ingest.writer.EventWriter`. It leaves a ``<db>.server.json`` file (mode 0600)
with its address and a per-run admin secret, so the CLI can hand work to it instead of
fighting over DuckDB's single write lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from empatia.api.docs import add_docs
from empatia.api.limits import BodyLimit, BodyTooLarge
from empatia.api.routes.ingest import TrackingEndpoints
from empatia.errors import EmpatiaError
from empatia.plugins import import_builtins
from empatia.privacy.consent import ensure_view as ensure_consent_view
from empatia.privacy.keys import hash_secret
from empatia.privacy.tenants import CurrentProxy, KeyRouter, Tenants, WriterRouter
from empatia.remote import server_info_path
from empatia.web.security import WebSecurity
from empatia.web.sessions import Sessions
from empatia.workspace import Workspace

log = logging.getLogger(__name__)

#: Routers included in every app; stage packages add theirs here. All are built in: each is
#: imported as it is, so one that is missing or broken stops the app from being built.
ROUTERS: tuple[str, ...] = (
    "empatia.api.routes.admin",
    "empatia.api.routes.workspace",
    "empatia.api.routes.profiles",
    "empatia.api.routes.emotion",
    "empatia.api.routes.experience",
    "empatia.api.routes.journeys",
    "empatia.api.routes.identity",
    "empatia.api.routes.care",
    "empatia.api.routes.decide",
    "empatia.api.routes.privacy",
    "empatia.web.routes",
)


def _json_error(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_app(
    workspace: Workspace | None = None,
    *,
    advertise: str | None = None,
    workspaces: Mapping[str, Workspace] | None = None,
) -> FastAPI:
    """Build the app for ``workspace``; ``advertise`` (a URL) writes the server-info file.

    ``workspaces`` (name → workspace) serves several workspaces from one server: each request
    reaches the workspace its key belongs to, and no other (see ``empatia.privacy.tenants``).
    """
    if workspaces and workspace is not None:
        raise ValueError("pass either workspace or workspaces")
    tenants = Tenants(workspaces or {"default": workspace or Workspace()})
    single = tenants.single

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        infos: list[Path] = []
        followers: list[IdentityFollower] = []
        for tenant in tenants:
            store = tenant.workspace.store
            store.con.execute("set checkpoint_threshold = '1GB'")  # checkpoint when quiet
            ensure_consent_view(store)  # consent given under an id reaches the stitched person
            follower = IdentityFollower.for_store(store)
            followers.append(follower)
            tenant.open(after_commit=follower)
            settings = tenant.workspace.settings
            if advertise and str(settings.db) != ":memory:":
                info = server_info_path(settings.db)
                admin_secret = "emp_admin_" + secrets.token_urlsafe(24)
                tenant.keyring.add_ephemeral(hash_secret(admin_secret), "server-local", "admin")
                fd = os.open(info, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(orjson.dumps({"url": advertise, "pid": os.getpid(), "token": admin_secret}))
                infos.append(info)
        try:
            yield
        finally:
            for follower in followers:
                follower.close()
            app.state.writer.close()
            for info in infos:
                info.unlink(missing_ok=True)
            for tenant in tenants:
                try:
                    tenant.workspace.store.release_cursors()  # request threads are done
                    tenant.workspace.store.checkpoint()
                except Exception:  # noqa: BLE001
                    log.warning("checkpoint at shutdown failed")

    app = FastAPI(
        title="Empatia",
        version=_version(),
        lifespan=lifespan,
        description="Customer-experience engine: tracking, profiles, experience, decisions.",
        docs_url=None,  # served from the package by add_docs: it works offline
        redoc_url=None,  # ReDoc loads from a CDN and needs inline styles: /docs is the one
    )
    add_docs(app)
    app.state.tenants = tenants
    app.state.keyring = KeyRouter(tenants)
    app.state.sessions = Sessions()
    app.state.writer = WriterRouter(tenants)
    if single is not None:
        app.state.workspace = single.workspace
        app.state.settings = single.workspace.settings
    else:
        app.state.workspace = CurrentProxy(tenants)
        app.state.settings = CurrentProxy(tenants, "settings")
    app.add_middleware(AuditMiddleware)
    app.add_middleware(WebSecurity)  # CSRF checks for the session cookie, security headers
    app.add_middleware(BodyLimit)  # every other body capped while it streams in
    app.add_middleware(TrackingEndpoints)  # outermost: the tracking hot path skips the rest

    @app.exception_handler(EmpatiaError)
    async def empatia_error(request: Request, exc: EmpatiaError) -> Response:
        return _json_error(exc.http_status, exc.to_dict())

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> Response:
        return _json_error(413, exc.error.to_dict())

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _json_error(400, {"code": "invalid", "message": problems})

    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": _version()}

    for module in import_builtins(ROUTERS):
        app.include_router(module.router)
    return app


class AuditMiddleware:
    """Records who read whose data: successful GETs of person-level routes (never bodies).

    The subject is kept as a person id, or — when the URL named a person by an identifier —
    as a salted hash of it, so the audit log holds no personal data.
    """

    PREFIXES = ("/v1/profiles", "/v1/subjects", "/v1/consent", "/v1/persons", "/v1/people",
                "/v1/customers", "/v1/care", "/v1/decisions", "/v1/emotion/persons")  # fmt: skip

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(self.PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_status)
        state = scope.get("state") or {}
        key, tenant = state.get("key"), state.get("tenant")
        if status >= 400 or key is None or tenant is None or state.get("audited"):
            return
        params = scope.get("path_params") or {}
        who = next((str(v) for k, v in params.items() if k in ("id", "person_id", "person", "subject")), None)
        route = scope.get("route")
        detail = f"GET {getattr(route, 'path', scope['path'])}"
        store = tenant.workspace.store

        def write() -> None:
            from empatia.privacy import audit, tombstones

            subject = who
            if who and not who.startswith("p_"):
                subject = "h:" + tombstones.digest(tombstones.salt(store), "query", who)[:16]
            audit.log(store, f"key:{key.key_id}", "read", subject, detail)

        try:
            await asyncio.wrap_future(tenant.writer.call(write))
        except Exception:  # noqa: BLE001 - the answer is already sent
            log.exception("audit log write failed")


class IdentityFollower:
    """Attaches newly committed events to their person in the background.

    The writer only pokes it after a commit (no wait); at most every ``interval`` seconds it
    stitches what is new on its own thread and cursor, so the agent screen and
    ``/v1/decide`` see a new event's person within a few seconds while group commits go on
    (stitching only reads ``events``). It holds the store's lock, which erasure and
    retention take too, so it never stitches events that are being erased.
    """

    def __init__(self, store: Any, attach: Any, interval: float = 2.0) -> None:  # noqa: ANN401
        self._store, self._attach, self._interval = store, attach, interval
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="empatia-identity", daemon=True)
        self._thread.start()

    @classmethod
    def for_store(cls, store: Any) -> IdentityFollower:  # noqa: ANN401
        from empatia.identity.incremental import attach_new_events  # built in: never skipped

        return cls(store, attach_new_events)

    def __call__(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                with self._store.lock:
                    self._attach(self._store)
            except Exception:  # noqa: BLE001 - the next run (or `empatia run`) catches up
                log.exception("attaching new events to people failed")
            time.sleep(self._interval)


def _version() -> str:
    from empatia import __version__

    return __version__


def serve(
    workspace: Workspace | None,
    host: str | None = None,
    port: int | None = None,
    *,
    workspaces: Mapping[str, Workspace] | None = None,
) -> None:
    """Run the server until interrupted (``empatia serve``); ``workspaces`` serves several."""
    import uvicorn

    first = workspace or next(iter((workspaces or {}).values()))
    host = host or first.settings.host
    port = port or first.settings.port
    url = f"http://{host}:{port}"
    app = (
        create_app(workspaces=workspaces, advertise=url)
        if workspaces
        else create_app(workspace, advertise=url)
    )
    import gc
    import sys

    # What start-up loaded is never garbage: full collections skip it (they paused the event
    # loop for 100+ ms). The writer and stitching threads wait for the GIL at most 1 ms, not 5.
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)
    uvicorn.run(
        app, host=host, port=port, access_log=False, log_level="warning",
        loop="uvloop", http="httptools",
    )  # fmt: skip
