"""Putting a built world into a store — through the ordinary batch import, like real data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from empatia.demo.world import WorldFiles
from empatia.store import Store


def import_world(
    store: Store, world: WorldFiles, progress: Callable[[Any], None] | None = None
) -> Any:
    """Import the world's event files (never its truth) with :func:`empatia.ingest.import_files`."""
    from empatia.ingest import import_files

    return import_files(store, world.events, progress=progress)
