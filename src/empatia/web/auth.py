"""Signing in to the web UI: a read or admin key, kept in the ``empatia_key`` cookie.

The API reads the same cookie (``empatia.api.deps``), so pages and their JSON calls share one
sign-in. The cookie is HttpOnly and SameSite=Lax: other sites cannot post forms with it.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from empatia.api.deps import require
from empatia.errors import AuthError
from empatia.privacy.keys import ApiKey
from empatia.web.render import render
from empatia.workspace import Workspace

router = APIRouter(include_in_schema=False)
COOKIE = "empatia_key"
_read = require("read")


async def signed_in(request: Request) -> ApiKey:
    """The caller's key; a browser without a valid one is sent to the sign-in page."""
    try:
        return await _read(request)
    except AuthError as e:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(
            303, "sign in first", {"Location": f"/signin?next={quote(target)}"}
        ) from e


WebKey = Annotated[ApiKey, Depends(signed_in)]


def workspace_of(request: Request) -> Workspace:
    """The signed-in key's workspace (set by :func:`signed_in`)."""
    ws: Workspace = request.state.tenant.workspace
    return ws


def may_see_words(key: ApiKey) -> bool:
    """Customers' own words and contact details: admin keys only (as in the API)."""
    return key.scope == "admin"


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/signin")
def signin_page(request: Request, next: str | None = None) -> Response:  # noqa: A002
    return render(request, "signin.html", next=_safe_next(next), error=None)


@router.post("/signin")
async def signin(request: Request, key: Annotated[str, Form()] = "",
                 next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002  # fmt: skip
    secret = key.strip()
    try:
        request.app.state.keyring.authenticate(secret, "read")
    except AuthError as e:
        return render(request, "signin.html", status=401, next=_safe_next(next), error=e.message)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https", max_age=12 * 3600)  # fmt: skip
    return response


@router.post("/signout")
def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
