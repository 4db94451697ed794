"""Built-in parts (stages, analyzers, recommenders, alert sinks) are found the way a plugin
would be: through entry points, in one :class:`Registry` per kind.

Built-in modules are imported with :func:`import_builtins`: a missing or broken one is an
error at start-up, never a route or command that quietly is not there. Optional extras
(Spark, transformers) are imported lazily where they are used and raise
:class:`~empatia.errors.MissingExtraError` naming the extra.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, TypeVar

from empatia.errors import ConfigError

T = TypeVar("T")


def import_builtins(modules: Iterable[str]) -> list[ModuleType]:
    """Import every module of ``modules``; any ImportError raises (they ship with Empatia)."""
    return [importlib.import_module(m) for m in modules]


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


class Registry(Mapping[str, T]):
    """The plugins of one kind, by name: the entry points of ``group`` (Empatia's own parts
    are entry points too, in its ``pyproject.toml``), loaded on first use, loudly — one that
    cannot be loaded is an error naming it, never a part quietly missing.

    :meth:`add` registers one made at run time (a script's own analyzer), for this registry
    only. The built-in groups: ``empatia.stages``, ``empatia.analyzers``,
    ``empatia.recommenders``, ``empatia.sinks``.

    >>> from empatia.emotion.registry import ANALYZERS
    >>> sorted(ANALYZERS)[:2]
    ['encoder', 'fast']
    """

    def __init__(self, group: str) -> None:
        self.group = group
        self._items: dict[str, T] | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> dict[str, T]:
        if self._items is None:
            with self._lock:
                if self._items is None:
                    self._items = self._load()
        return self._items

    def _load(self) -> dict[str, T]:
        found: dict[str, T] = {}
        for ep in entry_points(group=self.group):
            try:
                found[ep.name] = ep.load()
            except Exception as e:  # noqa: BLE001 - any failure to load is reported, loudly
                raise ConfigError(
                    f"{self.group} {ep.name!r} ({ep.value}) cannot be loaded: {e}"
                ) from e
        if not found:
            raise ConfigError(f"nothing registered under {self.group!r}: is Empatia installed?")
        return found

    def add(self, name: str, item: T) -> T:
        """Register ``item`` as ``name`` in this process (entry points are the lasting way)."""
        self._loaded()[name] = item
        return item

    def __getitem__(self, name: str) -> T:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())
