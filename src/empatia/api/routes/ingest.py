"""Segment-compatible tracking endpoints.

``POST /v1/{identify,track,page,screen,group,alias}`` (and analytics.js's short paths
``/v1/i|t|p|s|g|a``), ``/v1/batch`` (also ``/v1/b``, ``/v1/import`` and RudderStack's
``/beacon/v1/batch?writeKey=``). Bodies may be gzip-compressed and may come as
``text/plain``. The answer is ``200 {"success": true}`` only after the events are committed.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from empatia.api.tenancy import Tenant, Tenants
from empatia.errors import EmpatiaError, PayloadTooLargeError, ValidationError
from empatia.ingest.event import TOO_DEEP, Row, parse
from empatia.privacy.keys import ApiKey

_SINGLE = {
    "identify": "identify", "track": "track", "page": "page", "screen": "screen",
    "group": "group", "alias": "alias",
    "i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias",
}  # fmt: skip
_OK = Response(content=b'{"success":true}', media_type="application/json")


def _basic_user(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if not auth or not auth.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(auth[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationError("the Authorization header is not valid basic auth") from e
    return decoded.split(":", 1)[0] or None


async def _read(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) as soon as it passes ``limit``: never held whole first."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    chunks, seen = [], 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the body is over {limit} bytes; send fewer events per request", limit=limit
    )


async def _body(request: Request, limit: int) -> Any:
    raw = await _read(request, limit)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = d.decompress(raw, limit + 1)
        except (zlib.error, gzip.BadGzipFile) as e:
            raise ValidationError("the body says gzip but is not valid gzip") from e
    else:
        data = raw
    if len(data) > limit:
        raise _too_large(limit)
    if not data.strip():
        raise ValidationError("the body is empty; send a JSON object")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ValidationError(f"the body is not valid JSON: {e}") from e


def _authenticate(tenants: Tenants, write_key: Any) -> tuple[Tenant, ApiKey]:
    if write_key is not None and not isinstance(write_key, str):
        raise ValidationError("writeKey must be a string")
    return tenants.authenticate(write_key, "write")


def _body_key(body: Any, *, pop: bool) -> Any:
    """analytics.js's ``writeKey`` in the body (a single event's is not stored with it)."""
    if not isinstance(body, dict):
        return None
    return body.pop("writeKey", None) if pop else body.get("writeKey")


async def _store(
    tenant: Tenant, events: list[Any], key: ApiKey, default_type: str | None
) -> Response:
    received_at = datetime.now(UTC)
    source = f"key:{key.key_id}"
    limit = tenant.workspace.settings.max_event_bytes
    rows = []
    for i, e in enumerate(events):
        where = f"event {i}" if len(events) > 1 else "event"
        try:
            text = orjson.dumps(e).decode()
        except orjson.JSONEncodeError as exc:  # nested past what orjson writes (254 levels)
            msg = f"{where}: {TOO_DEEP}; nothing from this request was stored"
            raise ValidationError(msg, index=i) from exc
        row = parse(e, text, default_type, limit, received_at, os.urandom(16).hex(), source)
        if type(row) is str:
            err = PayloadTooLargeError if row.startswith("event is ") else ValidationError
            raise err(f"{where}: {row}; nothing from this request was stored", index=i)
        rows.append(cast(Row, row))  # a str (the refusal) raised above
    await asyncio.wrap_future(tenant.writer.submit(rows))
    return _OK


async def single(request: Request, tenants: Tenants) -> Response:
    default_type = _SINGLE[_route_path(request.scope).rsplit("/", 1)[-1]]
    # A key in the header is checked before the body is read; analytics.js puts it in the body
    # (until then the first workspace's limits apply).
    user = _basic_user(request)
    caller = _authenticate(tenants, user) if user else None
    limits = (caller[0] if caller else tenants.first).workspace.settings
    body = await _body(request, limits.max_event_bytes)
    body_key = _body_key(body, pop=True)  # never stored, even when the header named the key
    tenant, key = caller or _authenticate(tenants, body_key)
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object (one event)")
    return await _store(tenant, [body], key, default_type)


async def batch(request: Request, tenants: Tenants) -> Response:
    user = _basic_user(request) or request.query_params.get("writeKey")
    caller = _authenticate(tenants, user) if user else None
    limits = (caller[0] if caller else tenants.first).workspace.settings
    body = await _body(request, limits.max_batch_bytes)
    tenant, key = caller or _authenticate(tenants, _body_key(body, pop=False))
    settings = tenant.workspace.settings
    if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
        raise ValidationError('a batch body is {"batch": [event, ...]}')
    events = body["batch"]
    if not events:
        raise ValidationError("the batch is empty")
    if len(events) > settings.max_batch_events:
        raise PayloadTooLargeError(
            f"the batch has {len(events)} events; the limit is {settings.max_batch_events} — "
            "split it",
            limit=settings.max_batch_events,
        )
    # Batch-level context and integrations apply to events that have none of their own.
    shared = {k: body[k] for k in ("context", "integrations") if isinstance(body.get(k), dict)}
    sent_at = body.get("sentAt")
    for e in events:
        if isinstance(e, dict):
            for k, v in shared.items():
                e.setdefault(k, v)
            if sent_at is not None:
                e.setdefault("sentAt", sent_at)
    return await _store(tenant, events, key, None)


PATHS: dict[str, Callable[[Request, Tenants], Awaitable[Response]]] = {
    **{f"/v1/{kind}": single for kind in _SINGLE},
    **{f"/v1/{kind}": batch for kind in ("batch", "b", "import")},
    "/beacon/v1/batch": batch,
}


def _route_path(scope: Scope) -> str:
    """The path inside the app (without ``--root-path``), without a trailing slash."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.rstrip("/") or "/"


class TrackingEndpoints:
    """ASGI middleware answering ``POST`` on the tracking paths before FastAPI routes.

    The hot path (thousands of requests/s on one event loop) skips the router, dependency
    solving and the inner middleware, which cost more than the work itself; errors are
    answered as every other route answers them (``{"code", "message"}`` with its status).
    """

    def __init__(self, app: ASGIApp, tenants: Tenants) -> None:
        self.app = app
        self.tenants = tenants

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = PATHS.get(_route_path(scope)) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            response = Response(
                b'{"code":"method_not_allowed","message":"tracking endpoints take POST"}',
                status_code=405, headers={"Allow": "POST"}, media_type="application/json",
            )
        else:
            try:
                response = await handler(Request(scope, receive), self.tenants)
            except EmpatiaError as e:
                response = Response(orjson.dumps(e.to_dict()), status_code=e.http_status,
                                    media_type="application/json")  # fmt: skip
        await response(scope, receive, send)
