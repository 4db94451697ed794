"""The ``empatia`` command line: a thin layer over :class:`~empatia.workspace.Workspace`.

One module per stage (``empatia.cli.care`` …) adds its commands to the root app
(``empatia.cli.root``); every command calls the workspace, which runs on the store or, while
``empatia serve`` owns it, on the server. :func:`main` is the one place that turns errors into
messages and exit codes. The stage packages never import this package (nor typer or rich).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from rich.markup import escape

from empatia.cli.common import err_console
from empatia.cli.root import app
from empatia.errors import EmpatiaError

__all__ = ["app", "main"]

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

