"""The ``empatia`` command line: a thin layer over the library."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from empatia.cli_common import (
    console,
    err_console,
    local_store,
    progress_for_steps,
    store_or_remote,
    workspace,
)
from empatia.errors import ConfigError, EmpatiaError
from empatia.plugins import import_builtins

app = typer.Typer(
    name="empatia",
    help="Empatia: one profile per customer, how each one feels, and what to do next.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Manage API keys (write: ingest; read: analytics; admin: all).")
app.add_typer(keys_app, name="keys")
config_app = typer.Typer(help="The workspace's settings (argument → EMPATIA_* → empatia.toml).")
app.add_typer(config_app, name="config")

#: Stage packages that add their own commands through ``register(app)``.
COMMAND_MODULES = (
    "empatia.demo.cli",
    "empatia.identity.cli",
    "empatia.profiles.cli",
    "empatia.emotion.cli",
    "empatia.experience.cli",
    "empatia.journeys.cli",
    "empatia.care.cli",
    "empatia.decide.cli",
    "empatia.privacy.cli",
)


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional
        typer.Option("--db", envvar="EMPATIA_DB", help="The store (DuckDB file)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    ctx.obj = {"db": db, "debug": debug}
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING)
    if not debug:  # libraries' chatter (Splink's training notes) is not for the user
        for handler in logging.getLogger().handlers:  # a filter: Splink resets its own levels
            handler.addFilter(_quiet_libraries)


_NOISY = ("splink", "py4j", "lifetimes")


def _quiet_libraries(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR or not record.name.startswith(_NOISY)


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    match: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional
        typer.Argument(help="Only keys containing this, e.g. stages.care.risk"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every effective setting, and where it came from (argument, environment, empatia.toml,
    default). Reads no store: it works while `empatia serve` runs.

    Example: empatia config show stages.identity
    """
    import json

    from empatia.settings import effective_settings

    rows = [r for r in effective_settings(db=ctx.obj.get("db")) if not match or match in r[0]]
    if as_json:
        console.print_json(json.dumps([{"key": k, "value": v, "source": s} for k, v, s in rows]))
        return
    t = Table("setting", "value", "source", title="empatia settings")
    for k, v, src in rows:
        t.add_row(k, escape(json.dumps(v, ensure_ascii=False)), src)
    console.print(t)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create (or upgrade) the store and a first write key.

    Example: empatia --db shop.duckdb init
    """
    ws = local_store(ctx, "init", "the store is ready already: the server is serving it")
    versions = ws.store.versions()
    from empatia.privacy.keys import create_key, list_keys

    console.print(f"Store [bold]{ws.settings.db}[/] ready: " + ", ".join(
        f"{c} v{v}" for c, v in sorted(versions.items())))
    if not list_keys(ws.store):
        key, secret = create_key(ws.store, "write", "default")
        console.print(f"Write key {key.key_id}: [bold]{secret}[/] (shown once; stored hashed)")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on.")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="Port to listen on.")] = None,  # noqa: UP045
    workspace_opt: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--workspace",
            help="Serve several workspaces, NAME=PATH each (one store each; a key reaches only "
            "its own). Without it, the store of --db is served.",
        ),
    ] = None,
) -> None:
    """Serve the tracking API, the HTTP API and the web UI.

    Example: empatia serve --port 8000   (then POST events to http://127.0.0.1:8000/v1/track)
    Example: empatia serve --workspace shop=shop.duckdb --workspace travel=travel.duckdb
    """
    from empatia.api.server import serve as run_server
    from empatia.workspace import Workspace

    if workspace_opt:
        workspaces = {}
        for item in workspace_opt:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise ConfigError(f"--workspace {item!r}: write it as NAME=PATH, e.g. shop=shop.duckdb")
            workspaces[name] = Workspace(db=Path(path))
        first = next(iter(workspaces.values()))
        h, p = host or first.settings.host, port or first.settings.port
        console.print(f"Empatia is serving {len(workspaces)} workspaces at [bold]http://{h}:{p}/[/]")
        run_server(None, h, p, workspaces=workspaces)
        return
    ws = workspace(ctx)
    h, p = host or ws.settings.host, port or ws.settings.port
    console.print(f"Empatia is serving [bold]http://{h}:{p}/[/] (Ctrl+C stops)")
    run_server(ws, h, p)


@app.command("import")
def import_(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="JSONL, CSV or Parquet files (.gz ok).")],
) -> None:
    """Import Segment-shaped events from files; bad rows go to NAME.rejects.jsonl.

    Example: empatia import events.jsonl crm.csv orders.parquet
    """
    from empatia.privacy.retention import for_settings, import_notice

    ws, remote = store_or_remote(ctx)
    table = Table("file", "rows", "accepted", "duplicates", "rejected", "reject file")
    if remote is not None:
        console.print("The server owns the store: importing through it.")
        sent = {"files": _import_remote(remote, workspace(ctx).settings.db, files)}
        for r in sent["files"]:
            table.add_row(r["path"], str(r["rows"]), str(r["accepted"]), str(r["duplicates"]),
                          str(r["rejected"]), r["reject_file"] or "")
        console.print(table)
        if notice := import_notice(sent["files"]):
            console.print(notice, style="yellow", markup=False)
        return
    from empatia.ingest import import_files

    assert ws is not None
    with progress_for_steps() as progress:
        task = progress.add_task("importing", total=len(files))
        report = import_files(
            ws.store, files, progress=lambda fr: progress.advance(task),
            max_event_bytes=ws.settings.max_event_bytes, policies=for_settings(ws.settings),
        )  # fmt: skip
    for f in report.files:
        table.add_row(f.path, str(f.rows), str(f.accepted), str(f.duplicates), str(f.rejected),
                      f.reject_file or "")
    console.print(table)
    rate = report.rows / report.seconds if report.seconds else 0
    erased = f", {report.erased:,} of erased people dropped" if report.erased else ""
    console.print(f"{report.accepted:,} stored, {report.duplicates:,} already there, "
                  f"{report.rejected:,} rejected{erased} in {report.seconds:.1f} s "
                  f"({rate:,.0f} rows/s)")
    if report.retention_notice:
        console.print(report.retention_notice, style="yellow", markup=False)
    if report.rejected:
        raise typer.Exit(1)


def _import_remote(remote: Any, db: Path | str, files: list[Path]) -> list[dict[str, Any]]:
    """Files in the store's folder are named to the server; others are sent as the body (the
    server reads no path outside its workspace's folder)."""
    folder = Path(db).resolve().parent
    inside = [str(f.resolve()) for f in files if f.resolve().is_relative_to(folder)]
    out = remote.call("POST", "/admin/import", json={"paths": inside})["files"] if inside else []
    for f in (f for f in files if not f.resolve().is_relative_to(folder)):
        with f.open("rb") as body:
            out += remote.call("POST", "/admin/import/upload", params={"name": f.name},
                               content=body)["files"]  # fmt: skip
    return out  # type: ignore[no-any-return]


@app.command()
def stats(ctx: typer.Context) -> None:
    """Count stored events by type, source and day.

    Example: empatia stats
    """
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        s = remote.call("GET", "/admin/stats")
    else:
        from empatia.ingest.stats import event_stats

        assert ws is not None
        s = event_stats(ws.store)
    console.print(f"[bold]{s['total']:,}[/] events")
    for title, key in (("type", "by_type"), ("source", "by_source"), ("day", "by_day")):
        t = Table(title, "events")
        for k, v in s[key].items():
            t.add_row(str(k), f"{v:,}")
        console.print(t)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    scope: Annotated[str, typer.Option(help="write, read, care (CX agents) or admin.")] = "write",
    name: Annotated[str, typer.Option(help="A label for people.")] = "",
) -> None:
    """Create an API key; its secret is printed once and stored only as a hash.

    Example: empatia keys create --scope write --name website
    """
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        k = remote.call("POST", "/admin/keys", json={"scope": scope, "name": name})
        key_id, secret = k["key_id"], k["secret"]
    else:
        from empatia.privacy.keys import create_key

        assert ws is not None
        key, secret = create_key(ws.store, scope, name)
        key_id = key.key_id
    console.print(f"{scope} key {key_id}: [bold]{secret}[/]")


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List keys (never their secrets). Example: empatia keys list"""
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        rows = remote.call("GET", "/admin/keys")
    else:
        from empatia.privacy.keys import list_keys

        assert ws is not None
        rows = [k.__dict__ for k in list_keys(ws.store)]
    t = Table("key", "name", "scope", "created", "revoked")
    for k in rows:
        t.add_row(k["key_id"], k["name"], k["scope"], str(k["created_at"])[:19],
                  str(k["revoked_at"] or "")[:19])
    console.print(t)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str) -> None:
    """Revoke a key at once. Example: empatia keys revoke k_1a2b3c4d"""
    ws, remote = store_or_remote(ctx)
    if remote is not None:
        remote.call("DELETE", f"/admin/keys/{key_id}")
    else:
        from empatia.privacy.keys import revoke_key

        assert ws is not None
        revoke_key(ws.store, key_id)
    console.print(f"revoked {key_id}")


@app.command()
def run(
    ctx: typer.Context,
    engine: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
    master: Annotated[str, typer.Option(help="Spark master URL.")] = "local[2]",
    full: Annotated[bool, typer.Option("--full", help="Rebuild instead of incremental.")] = False,
    only: Annotated[Optional[list[str]], typer.Option(help="Run only these stages.")] = None,  # noqa: UP045
) -> None:
    """Run the pipeline stages in order, incrementally, with a timing summary.

    Example: empatia run            |  empatia run --engine spark --master local[2]
    """
    from empatia.cli_common import print_results, run_stages
    from empatia.pipeline import RunContext

    ws, remote = store_or_remote(ctx)
    if remote is None:
        assert ws is not None
        run_stages(RunContext(ws, engine=engine, full=full, master=master), only)
        return
    if engine != "duckdb":
        raise ConfigError(f"the server owns the store, and it runs the pipeline on duckdb: stop "
                          f"`empatia serve` to run it on {engine}")  # fmt: skip
    err_console.print("The server owns the store: running the pipeline there.")
    with err_console.status("running the pipeline on the server"):
        results = remote.call("POST", "/admin/run", json={"only": only, "full": full})
    print_results(results)


def _register_stage_commands() -> None:
    """Built-in command groups: one that is missing or broken is an error, not a command that
    quietly is not there."""
    for mod in import_builtins(COMMAND_MODULES):
        mod.register(app)


_register_stage_commands()


#: Options of the root command: they go before the command (``empatia --db x init``).
GLOBAL_OPTIONS = ("--db", "--debug")


def main() -> None:
    """Entry point: friendly errors and exit codes; tracebacks only with --debug.

    A usage mistake prints one line and the usual hint, and exits 2 (as every click app);
    Ctrl+C exits 130 at once, without DuckDB's leak report at interpreter exit.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    debug = "--debug" in sys.argv
    try:
        code = app(standalone_mode=False)
    except EmpatiaError as e:
        if debug:
            raise
        err_console.print(f"[red]error:[/] {escape(e.message)}", soft_wrap=True)
        code = e.exit_code
    except typer.Abort:
        code = 130
    except KeyboardInterrupt:
        code = 130
    except Exception as e:
        if _is_interrupt(e):
            code = 130
        elif _is_usage_error(e):
            code = _usage_error(e)
        else:
            raise
    if code == 130:
        _exit_interrupted()
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


def _is_interrupt(e: BaseException | None) -> bool:
    """Ctrl+C during a query: DuckDB catches the signal itself and raises its own error."""
    while e is not None:
        if type(e).__name__ == "InterruptException" or str(e) == "Query interrupted":
            return True
        e = e.__cause__ or e.__context__
    return False


def _is_usage_error(e: Exception) -> bool:
    """Typer raises its own (vendored) click's exceptions; plain click's are the same kind."""
    return any(c.__name__ == "ClickException" for c in type(e).__mro__)


def _usage_error(e: Any) -> int:
    """Print a usage mistake as one line plus click's hint; answer click's exit code (2)."""
    if type(e).__name__ == "NoArgsIsHelpError":  # the help has been printed already
        return int(e.exit_code)
    message = e.format_message()
    ctx = getattr(e, "ctx", None)
    option = getattr(e, "option_name", None)
    if option in GLOBAL_OPTIONS and ctx is not None:
        command = ctx.command_path.removeprefix(ctx.find_root().command_path).strip()
        value = " PATH" if option == "--db" else ""
        message += f" ({option} is a global option: put it first, as in empatia {option}{value} {command})"
    err_console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    if ctx is not None:
        err_console.print(f"Try '{ctx.command_path} --help' for help.", markup=False)
    return int(e.exit_code)


def _exit_interrupted() -> None:
    """Ctrl+C: leave at once (130). A normal interpreter exit after an interrupted query makes
    DuckDB's bindings print a leak report; what was committed is safe in the store's WAL."""
    err_console.print("interrupted")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(130)


if __name__ == "__main__":
    main()
