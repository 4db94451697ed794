"""FastAPI dependencies shared by every route: the caller's key, workspace and writer.

A key is read from ``Authorization: Bearer <secret>``, HTTP basic auth (the secret as user
name, as Segment clients send it), or the web UI's session cookie (``empatia.web.sessions``:
the cookie holds only a random session id; the key's secret stays in server memory). The key
names its workspace (``empatia.api.tenancy``): a route gets the caller's, never another.

    @router.get("/v1/profiles/{id}")
    def profile(id: str, ws: WorkspaceDep, key: ReadKey) -> ...

    @router.post("/v1/things")
    async def add(ws: WorkspaceDep, writer: WriterDep, _: AdminKey) -> ...
        return await asyncio.wrap_future(writer.call(lambda: add_thing(ws.store)))
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor
from typing import Annotated

import duckdb
from fastapi import Depends, Request

from empatia.api.tenancy import Tenant, Tenants
from empatia.api.writer import PrivacyWriter
from empatia.privacy.keys import SCOPES, ApiKey
from empatia.web.sessions import COOKIE as SESSION_COOKIE
from empatia.workspace import Workspace


def presented_secret(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            return base64.b64decode(value.strip()).decode().split(":", 1)[0] or None
        except (ValueError, UnicodeDecodeError):
            return None
    return request.app.state.sessions.secret(request.cookies.get(SESSION_COOKIE))


def tenant_of(request: Request) -> Tenant:
    """The workspace the presented key belongs to (the only one, when one is served); found
    once per request, and kept with it for the audit log."""
    tenant: Tenant | None = getattr(request.state, "tenant", None)
    if tenant is None:
        tenants: Tenants = request.app.state.tenants
        tenant = request.state.tenant = tenants.for_secret(presented_secret(request))
    return tenant


def require(scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency that authenticates the caller and checks the key allows ``scope``."""

    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")

    async def dependency(request: Request) -> ApiKey:
        key = tenant_of(request).keyring.authenticate(presented_secret(request), scope)
        request.state.key = key
        return key

    return dependency


async def all_tenants(request: Request) -> Tenants:
    tenants: Tenants = request.app.state.tenants
    return tenants


async def current_tenant(request: Request) -> Tenant:
    return tenant_of(request)


#: The caller's workspace with what the server runs for it (keys, writer, tombstones).
TenantDep = Annotated[Tenant, Depends(current_tenant)]


async def current_workspace(tenant: TenantDep) -> Workspace:
    return tenant.workspace


async def current_writer(tenant: TenantDep) -> PrivacyWriter:
    return tenant.writer


def read_cursor(ws: WorkspaceDep) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read cursor on the caller's workspace, closed once the route is done."""
    with ws.store.read() as cur:
        yield cur


async def lookup_pool(request: Request) -> Executor:
    """The app's pool for lookups run side by side (a page's sections)."""
    pool: Executor = request.app.state.lookup_pool
    return pool


#: Every workspace the server serves (for checks across them, such as server paths).
TenantsDep = Annotated[Tenants, Depends(all_tenants)]
WorkspaceDep = Annotated[Workspace, Depends(current_workspace)]
#: The writer of the caller's workspace: every write goes through it (DuckDB has one writer).
WriterDep = Annotated[PrivacyWriter, Depends(current_writer)]
PoolDep = Annotated[Executor, Depends(lookup_pool)]
#: A read cursor of the caller's workspace for this request only (``store.read()``).
ReadCursor = Annotated[duckdb.DuckDBPyConnection, Depends(read_cursor)]
#: The key dependencies routes use, one per scope (see ``empatia.privacy.keys``).
WriteKey = Annotated[ApiKey, Depends(require("write"))]
ReadKey = Annotated[ApiKey, Depends(require("read"))]
CareKey = Annotated[ApiKey, Depends(require("care"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]
