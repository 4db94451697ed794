"""The root ``empatia`` app, its global options, and the commands of no one stage: settings,
the store, the import, keys and the pipeline run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from empatia.cli.common import (
    console,
    err_console,
    local_store,
    print_results,
    progress_for_steps,
    run_stages,
    workspace,
)
from empatia.errors import ConfigError
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

#: The stages' command modules; each adds its commands through ``register(app)``.
COMMAND_MODULES = (
    "empatia.cli.demo",
    "empatia.cli.identity",
    "empatia.cli.profiles",
    "empatia.cli.emotion",
    "empatia.cli.experience",
    "empatia.cli.journeys",
    "empatia.cli.care",
    "empatia.cli.decide",
    "empatia.cli.privacy",
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
def stages(
    mermaid: Annotated[bool, typer.Option("--mermaid", help="Print the dataflow as a Mermaid chart.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The pipeline's stages in the order they run, with the tables each reads and writes
    (their declared contract; docs/architecture.md draws it). Reads no store.

    Example: empatia stages --mermaid > dataflow.mmd
    """
    import json

    from empatia.pipeline import mermaid as chart
    from empatia.pipeline import ordered_stages

    if mermaid:
        typer.echo(chart(), nl=False)
        return
    found = ordered_stages()
    if as_json:
        rows = [{"stage": s.name, "reads": s.reads, "writes": s.writes} for s in found]
        console.print_json(json.dumps(rows))
        return
    t = Table("stage", "reads", "writes", title="empatia stages, in the order they run")
    for s in found:
        t.add_row(s.name, ", ".join(s.reads), ", ".join(s.writes))
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
        run_server(None, h, p, workspaces=workspaces, tune=True)
        return
    ws = workspace(ctx)
    h, p = host or ws.settings.host, port or ws.settings.port
    console.print(f"Empatia is serving [bold]http://{h}:{p}/[/] (Ctrl+C stops)")
    run_server(ws, h, p, tune=True)


@app.command("import")
def import_(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="JSONL, CSV or Parquet files (.gz ok).")],
) -> None:
    """Import Segment-shaped events from files; bad rows go to NAME.rejects.jsonl.

    Example: empatia import events.jsonl crm.csv orders.parquet
    """
    ws = workspace(ctx)
    if ws.server() is not None:
        console.print("The server owns the store: importing through it.")
    with progress_for_steps() as progress:
        task = progress.add_task("importing", total=len(files))
        report = ws.import_files(list(files), progress=lambda _file: progress.advance(task))
    table = Table("file", "rows", "accepted", "duplicates", "rejected", "reject file")
    for f in report["files"]:
        table.add_row(f["path"], str(f["rows"]), str(f["accepted"]), str(f["duplicates"]),
                      str(f["rejected"]), f["reject_file"] or "")  # fmt: skip
    console.print(table)
    rate = report["rows"] / report["seconds"] if report["seconds"] else 0
    erased = f", {report['erased']:,} of erased people dropped" if report["erased"] else ""
    console.print(f"{report['accepted']:,} stored, {report['duplicates']:,} already there, "
                  f"{report['rejected']:,} rejected{erased} in {report['seconds']:.1f} s "
                  f"({rate:,.0f} rows/s)")  # fmt: skip
    if report["shipped"]:
        console.print(f"{report['shipped']:,} sent to the lake")
    if report["retention_notice"]:
        console.print(report["retention_notice"], style="yellow", markup=False)
    if report["rejected"]:
        raise typer.Exit(1)


@app.command()
def stats(ctx: typer.Context) -> None:
    """Count stored events by type, source and day.

    Example: empatia stats
    """
    s = workspace(ctx).event_stats()
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
    k = workspace(ctx).create_key(scope, name)
    console.print(f"{scope} key {k['key_id']}: [bold]{k['secret']}[/]")


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List keys (never their secrets). Example: empatia keys list"""
    t = Table("key", "name", "scope", "created", "revoked")
    for k in workspace(ctx).keys():
        t.add_row(k["key_id"], k["name"], k["scope"], str(k["created_at"])[:19],
                  str(k["revoked_at"] or "")[:19])
    console.print(t)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str) -> None:
    """Revoke a key at once. Example: empatia keys revoke k_1a2b3c4d"""
    workspace(ctx).revoke_key(key_id)
    console.print(f"revoked {key_id}")


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context, key_id: str) -> None:
    """Give a key a new secret (same name and scope); the old secret stops working.

    Example: empatia keys rotate k_1a2b3c4d
    """
    k = workspace(ctx).rotate_key(key_id)
    console.print(f"{key_id} revoked; {k['scope']} key {k['key_id']}: [bold]{k['secret']}[/]")


def spark_settings(pairs: list[str]) -> dict[str, str]:
    """``--conf KEY=VALUE`` options as a dict (a pair without ``=`` is the user's mistake)."""
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--conf {pair!r}: expected KEY=VALUE, e.g. spark.executor.memory=4g")
        out[key.strip()] = value
    return out


@app.command()
def run(
    ctx: typer.Context,
    engine: Annotated[str, typer.Option(help="duckdb (default) or spark.")] = "duckdb",
    master: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Spark master URL (default: [spark] master, spark-submit's, else local[2]).")] = None,
    conf: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--conf", metavar="KEY=VALUE", help="A Spark setting, as spark-submit takes it.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild instead of incremental.")] = False,
    only: Annotated[Optional[list[str]], typer.Option(help="Run only these stages.")] = None,  # noqa: UP045
) -> None:
    """Run the pipeline stages in order, incrementally, with a timing summary.

    Example: empatia run  |  empatia run --engine spark --master spark://host:7077 --conf spark.executor.memory=4g
    """
    from empatia.pipeline import RunContext

    spark_conf = spark_settings(conf or [])
    if engine != "spark" and (master or spark_conf):
        raise ConfigError("--master and --conf are Spark's: add --engine spark")
    ws = workspace(ctx)
    if ws.server() is None:  # here, with a progress bar per stage
        run_stages(RunContext(ws, engine=engine, full=full, master=master,
                              spark_conf=spark_conf), only)  # fmt: skip
        return
    if engine != "duckdb":
        raise ConfigError(f"the server owns the store, and it runs the pipeline on duckdb: stop "
                          f"`empatia serve` to run it on {engine}")  # fmt: skip
    err_console.print("The server owns the store: running the pipeline there.")
    with err_console.status("running the pipeline on the server"):
        results = ws.run(only=only, full=full)
    print_results(results)


def _register_stage_commands() -> None:
    """Built-in command groups: one that is missing or broken is an error, not a command that
    quietly is not there."""
    for mod in import_builtins(COMMAND_MODULES):
        mod.register(app)


_register_stage_commands()
