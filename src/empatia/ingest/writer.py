"""Group commit: the single writer of a store while the server runs.

HTTP handlers validate their events (:mod:`empatia.ingest.event`), hand the rows to
:meth:`EventWriter.submit` and wait. One thread takes everything queued, appends it in one
DuckDB transaction, commits (DuckDB fsyncs its WAL on commit) and only then answers the
waiting handlers — so a 200 means the event is on disk. Groups size themselves: a few events
under light load, thousands when saturated. A message id already stored is skipped.

Other writes that must not race the group commits (file imports routed from the CLI, key
changes) run on the same thread through :meth:`EventWriter.call`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import duckdb

from empatia.errors import StoreError
from empatia.ingest.event import Row
from empatia.ingest.normalize import INSERT_COLUMNS
from empatia.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_GROUP_EVENTS = 20_000

#: One list per ``Row`` field, unnested in SQL: the group's rows go in as parameters of one
#: statement (the writer crosses between Python and DuckDB once, which matters while the event
#: loop holds the GIL most of the time).
_TIMES = ("timestamp", "original_timestamp", "sent_at", "received_at")
_COLUMNS = ", ".join(
    f"unnest(${i}::{'timestamptz' if f in _TIMES else 'varchar'}[]) as \"{f}\""
    for i, f in enumerate(Row._fields, start=1)
)
_APPEND = (
    f"insert into events ({INSERT_COLUMNS}) "
    f"select md5_number(message_id), * from (select {_COLUMNS})"
)
#: The same, skipping message ids already stored; DuckDB's conflict check costs about twice the
#: plain insert, so it runs only when the plain insert met a duplicate (a client's retry).
_INSERT_NEW = _APPEND.replace("insert into", "insert or ignore into", 1)


@dataclass
class _Request:
    rows: list[Row]
    future: Future[int]


@dataclass
class _Call:
    fn: Callable[[], Any]
    future: Future[Any]


class EventWriter:
    """Owns the write side of a :class:`Store` from one background thread."""

    def __init__(self, store: Store, *, after_commit: Callable[[], None] | None = None) -> None:
        self.store = store
        self.after_commit = after_commit
        self._queue: queue.SimpleQueue[_Request | _Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="empatia-writer", daemon=True)
        self._thread.start()

    # -- producers ------------------------------------------------------------------------
    def submit(self, rows: list[Row]) -> Future[int]:
        """Queue one request's rows; the future resolves after the commit (or fails)."""
        fut: Future[int] = Future()
        self._queue.put(_Request(rows, fut))
        return fut

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the writer thread, between group commits."""
        fut: Future[T] = Future()
        self._queue.put(_Call(fn, fut))
        return fut

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    # -- the writer thread ----------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Call):
                self._run_call(item)
                continue
            group = [item]
            pending_call: _Call | None = None
            size = len(item.rows)
            while size < MAX_GROUP_EVENTS:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                if isinstance(nxt, _Call):
                    pending_call = nxt
                    break
                group.append(nxt)
                size += len(nxt.rows)
            self._write_group(group)
            if pending_call is not None:
                self._run_call(pending_call)

    def _run_call(self, call: _Call) -> None:
        if not call.future.set_running_or_notify_cancel():  # its caller stopped waiting
            return
        try:
            call.future.set_result(call.fn())
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            call.future.set_exception(e)

    def _write_group(self, group: list[_Request]) -> None:
        # A request cancelled while queued (its client went away: no answer, so it retries)
        # is not stored; the others can no longer be cancelled, so each gets its answer —
        # answering a cancelled future would raise and end this thread, and every later write.
        group = [req for req in group if req.future.set_running_or_notify_cancel()]
        rows = [r for req in group for r in req.rows]
        con = self.store.con  # this thread's cursor (made anew after a file swap)
        try:  # one statement, its own transaction: all of the group or nothing
            if rows:  # (none when every event was dropped, e.g. an erased person's)
                columns = [list(c) for c in zip(*rows, strict=True)]
                try:
                    con.execute(_APPEND, columns)
                except duckdb.ConstraintException:  # a retry: keep what is new
                    con.execute(_INSERT_NEW, columns)
        except Exception as e:
            log.exception("group commit failed")
            err = StoreError(f"could not store the events: {type(e).__name__}")
            for req in group:
                req.future.set_exception(err)
            return
        for req in group:
            req.future.set_result(len(req.rows))
        if self.after_commit is not None:
            try:
                self.after_commit()
            except Exception:  # noqa: BLE001 - stitching catches up on the next run
                log.exception("after-commit hook failed")
