"""The Workspace: the one object the Python API, the CLI and the HTTP server are built on."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from empatia.settings import Settings, load_settings
from empatia.store import Store


class Workspace:
    """One Empatia workspace: its settings and its store.

    >>> ws = Workspace(db=":memory:")
    >>> ws.store.table_exists("events")
    True
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings or load_settings(**overrides)

    @cached_property
    def store(self) -> Store:
        s = self.settings
        store = Store(s.db, memory_limit=s.duckdb_memory_limit, threads=s.duckdb_threads)
        from empatia.privacy.compact import finish_pending

        finish_pending(store)  # an erasure stopped before its file rewrite is finished first
        return store

    def profile(self, identifier: str) -> dict[str, Any]:
        """One person's unified profile, found by any identifier (``email:…``, a phone, a
        loyalty id, a person id …), with where each trait came from."""
        from empatia.profiles.api import get_profile

        return get_profile(self, identifier)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
