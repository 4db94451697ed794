"""Static assets served from the package itself (no CDN: the UI works offline).

Files are read once, kept in memory with a gzip copy, and served with a content hash in
their URL (``asset_url``) so browsers may cache them for a year.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response

from empatia.errors import NotFoundError

router = APIRouter(include_in_schema=False)

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}  # fmt: skip


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    media_type: str


@cache
def load(path: str) -> Asset:
    """One file under ``empatia/web/static`` (``NotFoundError`` outside it or when absent)."""
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in ("..", ".") or p.startswith(".") for p in parts):
        raise NotFoundError(f"no asset {path!r}", path=path)
    node = resources.files("empatia.web").joinpath("static", *parts)
    if not node.is_file():
        raise NotFoundError(f"no asset {path!r}", path=path)
    body = node.read_bytes()
    suffix = "." + parts[-1].rsplit(".", 1)[-1]
    media = _TYPES.get(suffix) or mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
    packed = gzip.compress(body, 6) if suffix in (".js", ".css", ".svg", ".txt") else None
    return Asset(body, packed, hashlib.sha256(body).hexdigest()[:16], media)


def asset_url(path: str) -> str:
    """``/static/app.css?v=<hash>``: a new URL whenever the file changes."""
    return f"/static/{path}?v={load(path).etag}"


@router.get("/static/{path:path}")
def static(path: str, request: Request) -> Response:
    asset = load(path)
    headers = {"ETag": f'"{asset.etag}"', "Vary": "Accept-Encoding",
               "Cache-Control": "public, max-age=31536000, immutable"}  # fmt: skip
    if request.headers.get("if-none-match") == f'"{asset.etag}"':
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)
