"""Request-body limits, enforced while the body streams in (before anything parses it).

FastAPI reads and parses a route's JSON body *before* it solves the key dependency, so
without a cap anyone could make the server hold a body of any size before the 401. This
ASGI middleware counts the bytes the app takes from ``receive`` and answers 413 as soon as a
body passes its route's limit; a ``Content-Length`` over the limit is refused before a byte is
read. The tracking endpoints keep Segment's own limits (32 KB an event, 500 KB a batch: see
``empatia.api.routes.ingest``), checked the same way.

>>> limit_for("/v1/journeys/funnel"), limit_for("/admin/import/upload")
(1048576, 1073741824)
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from empatia.errors import AuthError, EmpatiaError, PayloadTooLargeError

#: Every body (JSON, forms) is at most this big.
MAX_BODY_BYTES = 1024 * 1024
#: Routes that stream their body to disk themselves may take more.
LARGER: dict[str, int] = {"/admin/import/upload": 1024**3}


def limit_for(path: str) -> int:
    return LARGER.get(path.rstrip("/") or "/", MAX_BODY_BYTES)


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the request body is over the limit of {limit:,} bytes for this route; send less "
        "(limits are listed in the README)",
        limit=limit,
    )


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: FastAPI lets an HTTPException from reading the body through
    (any other error becomes a 400), and the app's handler answers it as ``too_large``."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit).message)
        self.error = too_large(limit)


#: Routes that take a body from callers without a key (sign-in and sign-out: the web UI).
OPEN = frozenset({"/signin", "/signout"})


def _known_caller(scope: Scope) -> bool:
    """Whether the request presents a key (header or session cookie) some workspace knows."""
    from fastapi import Request

    from empatia.api.deps import presented_secret
    from empatia.privacy.keys import hash_secret

    request = Request(scope)
    try:
        secret = presented_secret(request)
    except Exception:  # noqa: BLE001 - a header that cannot be read presents no key
        return False
    if not secret:
        return False
    h = hash_secret(secret)
    return any(t.keyring.knows(h) for t in scope["app"].state.tenants)


class BodyLimit:
    """ASGI middleware capping every request body (see the module docstring); a request with
    a body and no known key is answered 401 before a byte of it is read (authenticate first).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, root = scope["path"], scope.get("root_path", "")
        route = path[len(root) :] if root and path.startswith(root) else path
        limit = limit_for(route)
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE") and route.rstrip("/") not in OPEN:
            if not _known_caller(scope):
                await _answer(send, AuthError("no valid key: send one as `Authorization: Bearer "
                                              "<key>` (the body was not read)"))  # fmt: skip
                return
        length = _content_length(scope)
        if length is not None and length > limit:
            await _answer(send, too_large(limit))
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, error: EmpatiaError) -> None:
    body = orjson.dumps(error.to_dict())
    headers: list[Any] = [(b"content-type", b"application/json"),
                          (b"content-length", str(len(body)).encode()), (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
