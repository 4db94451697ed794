"""Signing in to the web UI with a read, care or admin key: a server-side session.

The browser gets only a random session id (``empatia.web.sessions``); the key's secret stays
in server memory. The API reads the same session (``empatia.api.deps``), so pages and their
JSON calls share one sign-in. Signing out drops the session: the old cookie opens nothing.
Forms are protected against cross-site forgery by ``empatia.web.security``; write keys cannot
sign in (they are public: every browser running analytics.js carries one).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from empatia.api.deps import TenantsDep, require, tenant_of
from empatia.api.tenancy import Tenant
from empatia.errors import AuthError, ForbiddenError
from empatia.privacy.keys import ApiKey
from empatia.web.render import render
from empatia.web.security import SIGNIN_COOKIE, new_token
from empatia.web.sessions import COOKIE, LIFETIME_S
from empatia.workspace import Workspace

router = APIRouter(include_in_schema=False)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def signed_in_with(scope: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency: the caller's key, which must allow ``scope``.

    A browser that is not signed in is sent to the sign-in page; a key without the scope gets
    403 (``ForbiddenError``).
    """
    check = require(scope)

    async def dependency(request: Request) -> ApiKey:
        try:
            return await check(request)
        except ForbiddenError:
            raise
        except AuthError as e:  # not signed in (or the session ended): sign in for ``scope``
            raise _sign_in_first(request) from e

    return dependency


def _sign_in_first(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(303, "sign in first", {"Location": f"/signin?next={quote(target)}"})


async def signed_in_tenant(request: Request) -> Tenant:
    """The signed-in key's workspace (with several served, a browser that is not signed in
    is sent to sign in first)."""
    try:
        return tenant_of(request)
    except AuthError as e:
        raise _sign_in_first(request) from e


async def signed_in_workspace(tenant: Annotated[Tenant, Depends(signed_in_tenant)]) -> Workspace:
    return tenant.workspace


signed_in = signed_in_with("read")
WebKey = Annotated[ApiKey, Depends(signed_in)]
CareWebKey = Annotated[ApiKey, Depends(signed_in_with("care"))]
WebTenant = Annotated[Tenant, Depends(signed_in_tenant)]
WebWorkspace = Annotated[Workspace, Depends(signed_in_workspace)]


def may_see_words(key: ApiKey) -> bool:
    """Customers' own words and contact details: admin keys only (as in the API)."""
    return key.scope == "admin"


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/`` (no open redirects).

    >>> [safe_next(t) for t in ("/customers?q=1", "//evil.com", "/\\\\evil.com", "/%2F%2Fevil")]
    ['/customers?q=1', '/', '/', '/']
    """
    if not target:
        return "/"
    seen = target
    for _ in range(3):  # what a browser or a proxy might decode
        if (
            not seen.startswith("/")
            or seen.startswith("//")
            or "\\" in seen
            or any(ord(c) < 0x21 or ord(c) == 0x7F for c in seen)
            or urlsplit(seen).scheme
            or urlsplit(seen).netloc
        ):
            return "/"
        seen = unquote(seen)
    return target


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int,
            path: str = "/", samesite: str = "lax") -> None:  # fmt: skip
    """An HttpOnly cookie, Secure whenever the browser reached us over https."""
    # behind a TLS proxy, uvicorn's proxy headers make the scheme https (X-Forwarded-Proto)
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                        samesite=samesite, secure=request.url.scheme == "https")  # type: ignore[arg-type]  # fmt: skip


def _signin_path(request: Request) -> str:
    """Where the sign-in cookie is sent: the sign-in page only (under ``--root-path`` too)."""
    return str(request.scope.get("root_path", "")).rstrip("/") + "/signin"


def _signin_form(request: Request, next_: str, error: str | None = None,
                 status: int = 200) -> Response:  # fmt: skip
    """The sign-in page with a pre-session CSRF token, also set as a cookie (double submit)."""
    token = request.cookies.get(SIGNIN_COOKIE, "")
    if not _TOKEN.fullmatch(token):
        token = new_token()
    response = render(request, "signin.html", status=status, next=next_, error=error,
                      signin_token=token)  # fmt: skip
    _cookie(request, response, SIGNIN_COOKIE, token, 3600, _signin_path(request), "strict")
    return response


@router.get("/signin")
def signin_page(request: Request, next: str | None = None) -> Response:  # noqa: A002
    return _signin_form(request, safe_next(next))


@router.post("/signin")
async def signin(request: Request, tenants: TenantsDep, key: Annotated[str, Form()] = "",
                 next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002  # fmt: skip
    """Sign in (the CSRF token was checked by ``empatia.web.security``)."""
    secret = key.strip()
    try:
        tenants.authenticate(secret, "read")
    except AuthError as e:
        return _signin_form(request, safe_next(next), e.message, status=e.http_status)
    sessions = request.app.state.sessions
    old = request.cookies.get(COOKIE)
    if old:
        sessions.drop(old)
    response = RedirectResponse(safe_next(next), status_code=303)
    _cookie(request, response, COOKIE, sessions.create(secret), LIFETIME_S)
    response.delete_cookie(SIGNIN_COOKIE, path=_signin_path(request))
    return response


@router.post("/signout")
def signout(request: Request) -> Response:
    sid = request.cookies.get(COOKIE)
    if sid:
        request.app.state.sessions.drop(sid)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
