"""The group-commit writer outlives a caller that stops waiting.

A request whose client went away (a timeout, a disconnect) has its future cancelled by the
server while the writer still holds it in the queue. The writer used to answer it anyway and
died on ``InvalidStateError`` — and with it every write of the workspace, which then hung.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import UTC, datetime

import orjson

from empatia.ingest.event import Row, parse
from empatia.ingest.writer import EventWriter
from empatia.store import Store


def _row(message_id: str, **extra: object) -> Row:
    e = {"type": "track", "event": "Viewed", "userId": "u1", "messageId": message_id, **extra}
    row = parse(e, orjson.dumps(e).decode(), None, 32768, datetime.now(UTC), "f0", "test")
    assert isinstance(row, Row)
    return row


def _stored(store: Store) -> list[str]:
    return [r[0] for r in store.con.execute("select message_id from events order by 1").fetchall()]


def _hold(writer: EventWriter) -> threading.Event:
    """Keep the writer busy until the returned event is set: what is queued meanwhile waits."""
    go, busy = threading.Event(), threading.Event()

    def held() -> None:
        busy.set()
        go.wait(10)

    writer.call(held)
    assert busy.wait(10)
    return go


def test_a_cancelled_write_is_not_stored_and_the_writer_goes_on() -> None:
    with Store(":memory:") as store:
        writer = EventWriter(store)
        try:
            go = _hold(writer)
            gone = writer.submit([_row("m-gone")])
            call: Future[float] = writer.call(lambda: 1 / 0)  # would fail: never runs
            assert gone.cancel() and call.cancel()  # the clients went away while queued
            kept = writer.submit([_row("m-kept")])
            go.set()
            assert kept.result(10) == 1  # answered: the writer is alive
            assert writer.call(lambda: "still here").result(10) == "still here"
            assert _stored(store) == ["m-kept"]  # no answer, not stored: the client retries
        finally:
            writer.close()


def test_a_consent_write_answers_once_consent_is_read_even_if_its_caller_left() -> None:
    from empatia.api.writer import PrivacyWriter
    from empatia.privacy.tombstones import TombstoneSet

    with Store(":memory:") as store:
        writer = PrivacyWriter(store, TombstoneSet(store))
        try:
            go = _hold(writer)
            consent = _row("m-consent", event="Consent Updated",
                           properties={"consent": {"marketing": False}})  # fmt: skip
            left = writer.submit([consent])
            waits = writer.submit([consent._replace(message_id="m-consent-2")])
            left.cancel()  # the caller stops waiting; what it sent is stored regardless
            go.set()
            assert waits.result(10) == 1  # the other one in the same commit is answered
            assert writer.submit([_row("m-next")]).result(10) == 1
            assert _stored(store) == ["m-consent", "m-consent-2", "m-next"]
        finally:
            writer.close()
