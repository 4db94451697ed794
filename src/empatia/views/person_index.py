"""Which events belong to whom, held in memory for the customer 360.

``event_persons`` is kept in event order, so finding one person's events means scanning all
of it (the slowest part of a 360 page on the 100k world). This index keeps, per person,
their event seqs (newest first) as Arrow lists, looked up by binary search in microseconds.

It is used only while it matches the store: a stamp of ``event_persons``' row count,
``merge_history``'s row count and the identity stage's state is compared on every lookup.
When they differ the caller scans as before, and the index is rebuilt in the background (at
most once every :data:`REBUILD_SECONDS`). :func:`index_for` finds a store's index.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from typing import Any, cast

import duckdb

log = logging.getLogger(__name__)

REBUILD_SECONDS = 20.0
_ATTRIBUTE = "_empatia_person_index"
_STAMP_SQL = """select (select count(*) from event_persons), (select count(*) from merge_history),
    (select coalesce(string_agg(key || '=' || coalesce(value, ''), ';' order by key), '') from identity_state)"""


class PersonIndex:
    def __init__(self, store: Any) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._ids: list[str] | None = None
        self._seqs: Any = None
        self._stamp: tuple[Any, ...] | None = None
        self._building = False
        self._last_build = float("-inf")
        self._thread: threading.Thread | None = None

    def seqs(self, cur: duckdb.DuckDBPyConnection, person_id: str, limit: int) -> list[int] | None:
        """The person's seqs, newest first; ``None`` when the index is not current (scan)."""
        try:
            stamp = tuple(cur.execute(_STAMP_SQL).fetchone() or ())
        except duckdb.Error:  # identity tables missing: nothing to index
            return None
        with self._lock:
            if self._ids is not None and stamp == self._stamp:
                i = bisect.bisect_left(self._ids, person_id)
                if i < len(self._ids) and self._ids[i] == person_id:
                    return list(self._seqs[i].values.to_pylist()[:limit])
                return []
            start = not self._building and time.monotonic() - self._last_build >= REBUILD_SECONDS
            if start:
                self._building = True
        if start:
            self._thread = threading.Thread(target=self._build, args=(stamp,),
                                            name="empatia-web-index", daemon=True)  # fmt: skip
            self._thread.start()
        return None

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for a build in the background to end (the app, when it stops)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def build_now(self) -> None:
        """Build synchronously (tests, benchmarks)."""
        cur = self.store.cursor()
        try:
            stamp = tuple(cur.execute(_STAMP_SQL).fetchone() or ())
        finally:
            cur.close()
        with self._lock:
            self._building = True
        self._build(stamp)

    def _build(self, stamp: tuple[Any, ...]) -> None:
        cur = self.store.cursor()
        try:
            tbl = cur.sql(
                "select person_id, list(seq order by seq desc) as seqs from event_persons"
                " group by person_id order by person_id"
            ).to_arrow_table()  # fmt: skip
            ids = tbl.column("person_id").to_pylist()
            seqs = tbl.column("seqs").combine_chunks()
            with self._lock:
                self._ids, self._seqs, self._stamp = ids, seqs, stamp
        except Exception:  # noqa: BLE001 - the index is an optimisation; pages scan without it
            log.exception("building the person index failed")
        finally:
            cur.close()
            with self._lock:
                self._building = False
                self._last_build = time.monotonic()


def wait_for(store: Any) -> None:
    """Wait for ``store``'s index, if it has one, to finish a build in the background."""
    idx = getattr(store, _ATTRIBUTE, None)
    if idx is not None:
        idx.wait()


def index_for(store: Any) -> PersonIndex:
    """The index of ``store``: one per store, kept on the store itself so that it lives and
    dies with it (no registry of stores here)."""
    idx = getattr(store, _ATTRIBUTE, None)
    if idx is None:  # dict.setdefault is atomic: two first callers get the same index
        idx = vars(store).setdefault(_ATTRIBUTE, PersonIndex(store))
    return cast(PersonIndex, idx)
