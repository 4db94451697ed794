"""``empatia serve``: the app from :func:`~empatia.api.app.create_app`, run by uvicorn.

The process-wide tuning for a long-running server (:func:`tune_for_serving`) is the CLI's
to ask for (``serve(..., tune=True)``): a library caller or a test keeps its interpreter as
it was."""

from __future__ import annotations

import gc
import sys
from collections.abc import Mapping

from empatia.api.app import create_app
from empatia.workspace import Workspace


def tune_for_serving() -> None:
    """Process-wide settings for a long-running server process (the CLI's ``empatia serve``;
    never a library caller or a test): they change the whole interpreter.

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
    tune: bool = False,
) -> None:
    """Run the server until interrupted (``empatia serve``); ``workspaces`` serves several.

    ``tune`` applies :func:`tune_for_serving` once the app is built (a process that does
    nothing but serve: the CLI)."""
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
    if tune:
        tune_for_serving()
    uvicorn.run(
        app, host=host, port=port, access_log=False, log_level="warning",
        loop="uvloop", http="httptools",
    )  # fmt: skip
