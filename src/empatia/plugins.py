"""Built-in parts (stages, routers, CLI commands) are found the way a plugin would be.

Built-in modules are imported with :func:`import_builtins`: a missing or broken one is an
error at start-up, never a route, stage or command that quietly is not there. Optional
extras (Spark, transformers) are imported lazily where they are used and raise
:class:`~empatia.errors.MissingExtraError` naming the extra; :func:`import_optional` is only
for a module that may genuinely be absent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any


def import_builtins(modules: Iterable[str]) -> list[ModuleType]:
    """Import every module of ``modules``; any ImportError raises (they ship with Empatia)."""
    return [importlib.import_module(m) for m in modules]


def import_optional(module: str) -> ModuleType | None:
    """Import ``module`` if it exists; ``None`` when it does not (errors inside it still raise).

    Not for built-in parts: use :func:`import_builtins`, which fails loudly."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        return None


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A package's ``__getattr__`` (PEP 562) for public names that live in its submodules
    (``{"name": "submodule"}``), imported on first use: importing the package, or one light
    submodule of it such as its settings, does not load the stage's machinery."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
