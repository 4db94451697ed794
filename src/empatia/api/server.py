"""``empatia serve``: the app from :func:`~empatia.api.app.create_app`, run by uvicorn in a
process tuned for serving."""

from __future__ import annotations

import gc
import sys
from collections.abc import Mapping

from empatia.api.app import create_app
from empatia.workspace import Workspace


def tune_for_serving() -> None:
    """Process-wide settings for a long-running server (never for a library caller or a test).

    What start-up loaded is never garbage: full collections skip it (they paused the event
    loop for 100+ ms). The writer and stitching threads wait for the GIL at most 1 ms, not 5.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)


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
    tune_for_serving()
    uvicorn.run(
        app, host=host, port=port, access_log=False, log_level="warning",
        loop="uvloop", http="httptools",
    )  # fmt: skip
