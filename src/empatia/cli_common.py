"""What every CLI command shares: the workspace from global options, the console, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import typer
from rich.console import Console

from empatia.errors import EmpatiaError, StoreLockedError
from empatia.workspace import Workspace

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def workspace(ctx: typer.Context) -> Workspace:
    """The workspace named by the global options (``--db``), opened once per command."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    if "workspace" not in obj:
        obj["workspace"] = Workspace(db=obj.get("db"))
        root.obj = obj
        ctx.call_on_close(obj["workspace"].close)
    ws: Workspace = obj["workspace"]
    return ws


class Remote:
    """The running server that owns the store, reached with its local admin secret."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=None
        )

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.client.request(method, path, **kw)
        if r.status_code >= 400:
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            raise EmpatiaError(body.get("message") or f"server answered {r.status_code}")
        return r.json()


def store_or_remote(ctx: typer.Context) -> tuple[Workspace | None, Remote | None]:
    """Open the store, or — when ``empatia serve`` owns it — the server to go through."""
    ws = workspace(ctx)
    try:
        ws.store  # noqa: B018 - opens it
        return ws, None
    except StoreLockedError:
        from empatia.api.app import server_info_path

        info_path = server_info_path(ws.settings.db)
        if not info_path.exists():
            raise
        info = orjson.loads(Path(info_path).read_bytes())
        return None, Remote(info["url"], info["token"])


def run_stages(run_ctx: Any, only: list[str] | None = None) -> list[Any]:
    """Run the pipeline with a Rich progress bar per stage, then print the timing summary."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from empatia.pipeline import run_pipeline

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                   TextColumn("{task.completed:,}"), TimeElapsedColumn(), console=err_console)  # fmt: skip

    class _Stage:
        def __init__(self, name: str) -> None:
            self.task = bar.add_task(f"stage {name}", total=None)

        def total(self, n: int | None) -> None:
            bar.update(self.task, total=n)

        def advance(self, n: int = 1) -> None:
            bar.advance(self.task, n)

    with bar:
        results = run_pipeline(run_ctx, only, on_stage=lambda st: _Stage(st.name))
    if not results:
        console.print("No pipeline stages are installed yet.")
        return results
    t = Table("stage", "seconds", "figures")
    for r in results:
        t.add_row(r.name, f"{r.seconds:.2f}", ", ".join(f"{k}={v}" for k, v in r.figures.items()))
    console.print(t)
    return results
