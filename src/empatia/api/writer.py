"""What a server runs behind each workspace's writes: the group-commit writer with privacy's
checks, and the identity follower that stitches what was just committed.

Both are server plumbing composed from the stages' library parts (ingest's
:class:`~empatia.ingest.writer.EventWriter`, privacy's tombstones and consent, identity's
incremental attach); :class:`~empatia.api.tenancy.Tenant` starts them and stops them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from empatia.ingest.event import Row
from empatia.ingest.writer import EventWriter
from empatia.privacy.tombstones import TombstoneSet
from empatia.store import Store

log = logging.getLogger(__name__)


class PrivacyWriter(EventWriter):
    """The event writer, dropping events of erased people before they are stored, and
    reading consent from new events right after their commit (no wait for ``empatia run``)."""

    def __init__(self, store: Store, tombstones: TombstoneSet,
                 after_commit: Callable[[], None] | None = None) -> None:  # fmt: skip
        self._waiting: list[tuple[Future[int], int]] = []
        self._then = after_commit
        super().__init__(store, after_commit=self._after_commit)
        self.tombstones = tombstones
        #: Not on a lake's ingest node: the primary reads consent from what it gathers (within
        #: seconds), and the consent table is the primary's to write.
        self.reads_consent = True
        if store.lake is not None:
            from empatia.store.lake import is_primary

            self.reads_consent = is_primary(store.con, store.lake)

    def submit(self, rows: list[Row]) -> Future[int]:
        rows = self.tombstones.filter(rows)
        inner = super().submit(rows)
        if not self.reads_consent or not any(
            r.event == "Consent Updated" or '"consent"' in r.raw for r in rows
        ):
            return inner
        # Answer only once the consent is readable: after the post-commit step below.
        outer: Future[int] = Future()
        outer.set_running_or_notify_cancel()  # its events are queued: a caller leaving can't undo it

        def committed(f: Future[int]) -> None:
            if f.exception() is not None:
                outer.set_exception(f.exception())  # type: ignore[arg-type]
            elif threading.current_thread().name == "empatia-writer":
                self._waiting.append((outer, f.result()))  # answered by _after_commit
            else:  # committed before this callback was attached: read consent on the writer
                self.call(lambda: self._read_then(outer, f.result()))

        inner.add_done_callback(committed)
        return outer

    def _read_then(self, outer: Future[int], n: int) -> None:
        from empatia.privacy.stage import read_consent

        try:
            read_consent(self.store)
        finally:
            outer.set_result(n)

    def _after_commit(self) -> None:
        try:
            if self._then is not None:
                self._then()
        finally:
            waiting, self._waiting = self._waiting, []
            try:
                if waiting:
                    from empatia.privacy.stage import read_consent

                    read_consent(self.store)
            finally:
                for fut, n in waiting:
                    fut.set_result(n)


class IdentityFollower:
    """Attaches newly committed events to their person in the background.

    The writer only pokes it after a commit (no wait); at most every ``interval`` seconds it
    stitches what is new on its own thread and cursor, so the agent screen and
    ``/v1/decide`` see a new event's person within a few seconds while group commits go on
    (stitching only reads ``events``). It holds the store's lock, which erasure and
    retention take too, so it never stitches events that are being erased.
    """

    def __init__(self, store: Any, attach: Any, interval: float = 2.0,  # noqa: ANN401
                 poll: bool = False) -> None:  # fmt: skip
        self._store, self._attach, self._interval = store, attach, interval
        #: Also every ``interval`` seconds with nothing committed here (a lake's primary
        #: gathers what its ingest nodes sent).
        self._poll = poll
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="empatia-identity", daemon=True)
        self._thread.start()

    @classmethod
    def for_store(cls, store: Any, config: Any = None) -> IdentityFollower:  # noqa: ANN401
        """Stitching with the workspace's ``[stages.identity]`` settings (``config``). On a
        lake store (:mod:`empatia.store.lake`) people are stitched by the batch run, whose
        tables those are; the follower ships the acknowledged events to the lake instead,
        in batches, and gathers what ingest nodes sent (:mod:`empatia.ingest.nodes`)."""
        from functools import partial

        if getattr(store, "lake", None) is not None:
            from empatia.ingest.nodes import ship

            return cls(store, ship, interval=5.0, poll=True)

        from empatia.identity.incremental import attach_new_events  # built in: never skipped

        return cls(store, partial(attach_new_events, config=config))

    def __call__(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._interval if self._poll else None)
            self._wake.clear()
            if self._stopping:
                return
            try:
                with self._store.lock:
                    self._attach(self._store)
            except Exception:  # noqa: BLE001 - the next run (or `empatia run`) catches up
                log.exception("attaching new events to people failed")
            if not self._poll:  # (polling waits its interval already)
                time.sleep(self._interval)
