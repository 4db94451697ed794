"""Cross-site request forgery protection and security headers, in one ASGI middleware.

A browser sends the session cookie with every request to Empatia, including ones another
site makes it send. So every state-changing request (POST, PUT, PATCH, DELETE) that the
cookie authenticates must prove it comes from Empatia's own pages:

* the browser must not call it cross-site (``Sec-Fetch-Site``, or ``Origin`` where a browser
  sends no ``Sec-Fetch-Site``), and
* it carries the session's CSRF token (a synchroniser token): the ``X-CSRF-Token`` header
  (htmx sends it from ``hx-headers`` on ``<body>``) or the ``csrf_token`` field of a form.

Sign-in has no session yet: its form carries a token that must equal the pre-session
``empatia_signin`` cookie (double submit), so another site cannot sign a browser in with the
attacker's key. Requests that bring their key in an ``Authorization`` header are not
cookie-based (a browser never adds one on its own) and need no token.

Every answer also gets a strict Content-Security-Policy (only Empatia's own scripts, styles
and images; no framing), ``X-Frame-Options: DENY``, ``nosniff`` and a same-origin referrer.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from empatia.errors import EmpatiaError, ForbiddenError, PayloadTooLargeError
from empatia.web.sessions import COOKIE

#: The pre-session cookie holding the sign-in form's CSRF token.
SIGNIN_COOKIE = "empatia_signin"
#: The form field and the header that carry the CSRF token.
FIELD, HEADER = "csrf_token", "x-csrf-token"
#: Largest form body read to find its token (the UI's forms are a few hundred bytes).
MAX_FORM_BYTES = 64 * 1024

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfError(ForbiddenError):
    """A cookie-authenticated request that did not come from Empatia's own pages."""

    code = "csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def session_token(scope: Scope) -> str | None:
    """The CSRF token of the session the request's cookie names (None without one)."""
    cookies = _cookies(scope)
    sessions = scope["app"].state.sessions
    token: str | None = sessions.csrf(cookies.get(COOKIE))
    return token


def _cookies(scope: Scope) -> dict[str, str]:
    return cookie_parser(Headers(scope=scope).get("cookie", ""))


def _header_authenticated(headers: Headers) -> bool:
    """Whether the key comes in an ``Authorization`` header (as ``api.deps`` reads it)."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return scheme.lower() in ("bearer", "basic") and bool(value.strip())


def _same_origin(headers: Headers) -> bool:
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser that tells; the token decides
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower() != ""


class WebSecurity:
    """ASGI middleware: CSRF checks for cookie-signed requests, security headers on answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        if scope["method"] in _UNSAFE:
            try:
                receive = await self._check(scope, receive)
            except EmpatiaError as e:  # forged, or a form too big to look into
                await _refuse(send_with_headers, e.http_status, e.to_dict())
                return
            except HTTPException as e:  # the app's body limit, raised from ``receive``
                body = {"code": "too_large", "message": e.detail}
                await _refuse(send_with_headers, e.status_code, body)
                return
        await self.app(scope, receive, send_with_headers)

    async def _check(self, scope: Scope, receive: Receive) -> Receive:
        """Refuse a forged request; returns ``receive`` (replaying a form body it read)."""
        headers = Headers(scope=scope)
        if _header_authenticated(headers):
            return receive
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path.rstrip("/") == "/signin":
            expected = _cookies(scope).get(SIGNIN_COOKIE) or ""
            what = "the sign-in form"
        else:
            expected = session_token(scope) or ""
            if not expected:
                return receive  # the cookie signs nothing in: the route answers 401
            what = "this session"
        if not _same_origin(headers):
            raise CsrfError("cross-site request refused: use Empatia's own pages")
        given = headers.get(HEADER)
        if given is None:
            given, receive = await _form_token(scope, receive)
        if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
            raise CsrfError(
                f"missing or wrong CSRF token for {what}: reload the page and try again "
                f"(send it as the {FIELD} form field or the X-CSRF-Token header)"
            )
        return receive


async def _form_token(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """The token in a URL-encoded form body, and a ``receive`` that replays the body."""
    content_type = Headers(scope=scope).get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None, receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            raise PayloadTooLargeError(f"a form may have at most {MAX_FORM_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    token = next((v for k, v in fields if k == FIELD), None)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return token, replay


async def _refuse(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": payload})
