"""Built-in parts (stages, routers, CLI commands) are found the way a plugin would be."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(module: str) -> ModuleType | None:
    """Import ``module`` if it exists; ``None`` when it does not (errors inside it still raise)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        return None
