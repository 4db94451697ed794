"""The HTTP application: built by :func:`create_app` from a workspace, no globals.

The server owns the store while it runs: all writes go through each workspace's writer
(``empatia.api.writer``). It leaves a ``<db>.server.json`` file (mode 0600)
with its address and a per-run admin secret, so the CLI can hand work to it instead of
fighting over DuckDB's single write lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from empatia.api.docs import add_docs
from empatia.api.limits import BodyLimit, BodyTooLarge
from empatia.api.routes.ingest import TrackingEndpoints
from empatia.api.tenancy import Tenants
from empatia.errors import EmpatiaError, NotFoundError
from empatia.plugins import import_builtins
from empatia.views.exceptions import NotProducedError
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
    "empatia.api.routes.customers",
    "empatia.api.routes.emotion",
    "empatia.api.routes.experience",
    "empatia.api.routes.journeys",
    "empatia.api.routes.identity",
    "empatia.api.routes.care",
    "empatia.api.routes.decide",
    "empatia.api.routes.privacy",
    "empatia.api.routes.audiences",
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
    reaches the workspace its key belongs to, and no other (see ``empatia.api.tenancy``).
    The app owns its background threads (each workspace's writer and followers, the lookup
    pool): they start when the server starts and stop when it stops.
    """
    if workspaces and workspace is not None:
        raise ValueError("pass either workspace or workspaces")
    tenants = Tenants(workspaces or {"default": workspace or Workspace()})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tenants.open(advertise)
        # Lookups of one page run side by side (DuckDB releases the GIL while it scans).
        app.state.lookup_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="empatia-web")
        try:
            yield
        finally:
            app.state.lookup_pool.shutdown(wait=True)
            tenants.close()

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
    app.state.sessions = Sessions()
    app.add_middleware(AuditMiddleware)
    app.add_middleware(WebSecurity)  # CSRF checks for the session cookie, security headers
    app.add_middleware(BodyLimit)  # every other body capped while it streams in
    # Outermost: the tracking hot path skips the rest.
    app.add_middleware(TrackingEndpoints, tenants=tenants)

    @app.exception_handler(EmpatiaError)
    async def empatia_error(request: Request, exc: EmpatiaError) -> Response:
        body = exc.to_dict()
        about_people = isinstance(exc, NotProducedError) or (
            isinstance(exc, NotFoundError) and {"identifier", "person_id"} & body.keys())
        if about_people and getattr(getattr(request.state, "tenant", None), "primary_elsewhere",
                                    None):  # fmt: skip
            # not "run `empatia run`": an ingest node keeps no customers and cannot run
            body["message"] = ("this store is an ingest node of a lake: it keeps no customers"
                               " or results; the lake's primary store serves them")  # fmt: skip
        return _json_error(exc.http_status, body)

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


def _version() -> str:
    from empatia import __version__

    return __version__
