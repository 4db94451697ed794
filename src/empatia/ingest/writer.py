"""Group commit: the single writer of a store while the server runs.

HTTP handlers hand their parsed events to :meth:`EventWriter.submit` and wait. One thread
takes everything queued, validates it with the shared SQL, writes the good requests in one
DuckDB transaction, commits (DuckDB fsyncs its WAL on commit) and only then answers the
waiting handlers — so a 200 means the event is on disk. Groups size themselves: a few events
under light load, thousands when saturated. A request with one invalid event is refused
whole, with the reason; the others in the group are unaffected.

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
from datetime import datetime
from typing import Any, TypeVar

import pyarrow as pa

from empatia.errors import StoreError, ValidationError
from empatia.ingest.normalize import insert_sql, parse_sql, reject_sql
from empatia.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_GROUP_EVENTS = 20_000


@dataclass
class _Request:
    texts: list[str]
    fallback_ids: list[str]
    source: str
    default_type: str | None
    received_at: datetime
    future: Future[int]


@dataclass
class _Call:
    fn: Callable[[], Any]
    future: Future[Any]


class EventWriter:
    """Owns the write side of a :class:`Store` from one background thread."""

    def __init__(
        self,
        store: Store,
        *,
        max_event_bytes: int = 32 * 1024,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.max_event_bytes = max_event_bytes
        self.after_commit = after_commit
        self._queue: queue.SimpleQueue[_Request | _Call | None] = queue.SimpleQueue()
        self._con = store.cursor()
        self._thread = threading.Thread(target=self._loop, name="empatia-writer", daemon=True)
        self._thread.start()

    # -- producers ------------------------------------------------------------------------
    def submit(
        self,
        texts: list[str],
        fallback_ids: list[str],
        *,
        source: str,
        default_type: str | None,
        received_at: datetime,
    ) -> Future[int]:
        """Queue one request's events; the future resolves after commit (or fails)."""
        fut: Future[int] = Future()
        self._queue.put(_Request(texts, fallback_ids, source, default_type, received_at, fut))
        return fut

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the writer thread, between group commits."""
        fut: Future[T] = Future()
        self._queue.put(_Call(fn, fut))
        return fut

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._con.close()

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
            size = len(item.texts)
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
                size += len(nxt.texts)
            self._write_group(group)
            if pending_call is not None:
                self._run_call(pending_call)

    def _run_call(self, call: _Call) -> None:
        try:
            call.future.set_result(call.fn())
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            call.future.set_exception(e)

    def _write_group(self, group: list[_Request]) -> None:
        batch, idx, texts, sources, received, types, fallbacks = [], [], [], [], [], [], []
        for b, req in enumerate(group):
            n = len(req.texts)
            batch += [b] * n
            idx += range(n)
            texts += req.texts
            sources += [req.source] * n
            received += [req.received_at] * n
            types += [req.default_type] * n
            fallbacks += req.fallback_ids
        staging = pa.table(
            {
                "batch": pa.array(batch, pa.int32()),
                "idx": pa.array(idx, pa.int64()),
                "text": pa.array(texts, pa.string()),
                "source": pa.array(sources, pa.string()),
                "received_at": pa.array(received, pa.timestamp("us", tz="UTC")),
                "default_type": pa.array(types, pa.string()),
                "fallback_id": pa.array(fallbacks, pa.string()),
            }
        )
        con = self._con
        try:
            con.register("_w_staging", staging)
            con.execute(f"create or replace temp table _w_parsed as {parse_sql('_w_staging')}")
            rejects = con.execute(
                reject_sql("_w_parsed", self.max_event_bytes) + " order by batch, idx"
            ).fetchall()
            bad: dict[int, tuple[int, str]] = {}
            for b, i, reason in rejects:
                bad.setdefault(b, (i, reason))
            good = [b for b in range(len(group)) if b not in bad]
            written = 0
            if good:
                where = "batch in (" + ",".join(map(str, good)) + ")" if bad else "true"
                con.execute("begin transaction")
                try:
                    row = con.execute(insert_sql("_w_parsed", where)).fetchone()
                    con.execute("commit")
                except BaseException:
                    con.execute("rollback")
                    raise
                written = int(row[0]) if row else 0
        except Exception as e:
            log.exception("group commit failed")
            err = StoreError(f"could not store the events: {type(e).__name__}")
            for req in group:
                req.future.set_exception(err)
            return
        finally:
            con.unregister("_w_staging")
        for b, req in enumerate(group):
            if b in bad:
                i, reason = bad[b]
                where = f"event {i}" if len(req.texts) > 1 else "event"
                req.future.set_exception(
                    ValidationError(f"{where}: {reason}; nothing from this request was stored",
                                    index=i, reason=reason)
                )
            else:
                req.future.set_result(len(req.texts))
        if written and self.after_commit is not None:
            try:
                self.after_commit()
            except Exception:  # noqa: BLE001 - stitching catches up on the next run
                log.exception("after-commit hook failed")
