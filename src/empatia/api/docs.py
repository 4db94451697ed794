"""``/docs`` without the internet: Swagger UI served from the package, under the strict CSP.

FastAPI's own page loads Swagger UI from a CDN (blank offline) and starts it with an inline
script (refused by ``empatia.web.security``'s ``script-src 'self'``). Here the assets come
from the ``fastapi-offline`` package and the start-up script is a file of our own.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

#: Swagger UI's files (swagger-ui-bundle.js, swagger-ui.css), as the package ships them.
ASSETS = Path(fastapi_offline.__file__).parent / "static"

_INIT = """\
const el = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: el.dataset.openapi, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
});
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} – API</title>
<link rel="stylesheet" href="{root}/docs/assets/swagger-ui.css">
<link rel="icon" href="{root}/docs/assets/favicon.png"></head>
<body><div id="swagger-ui" data-openapi="{root}{openapi}"></div>
<script src="{root}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{root}/docs/init.js"></script></body></html>
"""


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (create the app with ``docs_url=None``); public, like ``/openapi.json``."""

    async def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(_PAGE.format(title=app.title, root=root, openapi=app.openapi_url))

    async def init(request: Request) -> Response:
        return Response(_INIT, media_type="text/javascript")

    app.router.routes.extend([
        Route("/docs", page, include_in_schema=False),
        Route("/docs/init.js", init, include_in_schema=False),
        Mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets"),
    ])  # fmt: skip
