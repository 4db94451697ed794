"""A small hand-made world: events stored the way ingestion stores them, with identity and
emotion stood in by fixture tables (``event_persons`` by user id, ``text_analysis`` scores)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from empatia.store import Store

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


class World:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.scores: dict[str, tuple[float, str]] = {}

    def event(self, person: str, at: datetime, event: str | None = None, type: str = "track",
              context_channel: str | None = None, name: str | None = None,
              **props: Any) -> str:  # fmt: skip
        mid = uuid.uuid4().hex
        raw: dict[str, Any] = {"type": type, "messageId": mid, "userId": person,
                               "timestamp": at.isoformat(), "properties": props}  # fmt: skip
        if event:
            raw["event"] = event
        if name:
            raw["name"] = name
        if context_channel:
            raw["context"] = {"channel": context_channel}
        self.store.con.execute(
            "insert into events (message_key, message_id, type, event, name, user_id, \"timestamp\","
            " received_at, source, raw) values (md5_number(?1), ?1, ?2, ?3, ?4, ?5, ?6, ?6, 'key:t', ?7)",
            [mid, type, event, name, person, at, json.dumps(raw)],
        )  # fmt: skip
        return mid

    def say(self, person: str, at: datetime, text: str, score: float, emotion: str = "neutral",
            event: str = "Message Sent", **props: Any) -> str:  # fmt: skip
        mid = self.event(person, at, event, text=text, **props)
        self.scores[mid] = (score, emotion)
        return mid

    def finish(self) -> None:
        """Stand in for identity and emotion."""
        con = self.store.con
        con.execute("delete from event_persons")
        con.execute("insert into event_persons select seq, user_id from events")
        con.execute("delete from text_analysis")
        for mid, (score, emotion) in self.scores.items():
            sentiment = "negative" if score < -0.2 else "positive" if score > 0.2 else "neutral"
            con.execute(
                """insert into text_analysis (seq, message_id, user_id, "timestamp", event,
                       text_hash, language, sentiment, score, dominant_emotion, n_effort, analyzer)
                   select seq, message_id, user_id, "timestamp", event, md5(message_id), 'en', ?, ?,
                          ?, 0, 'test' from events where message_id = ?""",
                [sentiment, score, emotion, mid],
            )  # fmt: skip


def seven_steps(w: World, person: str = "traveller", start: datetime | None = None) -> str:
    """The airline story: 7 contacts over 4 channels, long waits, booking fixed, customer furious."""
    t = start or NOW - timedelta(days=90)
    cid = f"C-{person}"
    w.event(person, t - timedelta(hours=2), "Booking Changed", context_channel="booking", booking_id="B1",
            status="changed_by_airline")  # fmt: skip
    w.event(person, t, "Case Opened", case_id=cid, topic="booking")
    path = ["phone", "phone", "chat", "email", "phone", "chat", "phone"]
    for k, ch in enumerate(path):
        tk = t + timedelta(days=k)
        w.event(person, tk, "Support Contact", case_id=cid, channel=ch, wait_seconds=2400,
                transferred=k % 2 == 0, agent_rating_internal=5, topic="booking")  # fmt: skip
        w.say(person, tk + timedelta(minutes=50),
              f"Contact number {k + 1} about my booking, still nothing.", -0.4 - 0.05 * k,
              "frustration", case_id=cid, channel="chat")  # fmt: skip
    end = t + timedelta(days=7)
    w.event(
        person,
        end - timedelta(minutes=1),
        "Booking Fixed",
        context_channel="booking",
        booking_id="B1",
    )
    w.event(person, end, "Case Resolved", case_id=cid, topic="booking", resolution="fixed",
            internal_success=True)  # fmt: skip
    w.say(person, end + timedelta(hours=2),
          "Seven calls and hours on hold to fix YOUR mistake. I am done with this airline.",
          -0.9, "anger", case_id=cid, channel="email")  # fmt: skip
    return cid


def easy_case(w: World, person: str, start: datetime, topic: str = "delivery") -> str:
    cid = f"C-{person}-{start:%j}"
    w.event(person, start, "Case Opened", case_id=cid, topic=topic)
    w.event(person, start, "Support Contact", case_id=cid, channel="chat", wait_seconds=60,
            transferred=False, agent_rating_internal=5, topic=topic)  # fmt: skip
    w.event(person, start + timedelta(hours=1), "Case Resolved", case_id=cid, topic=topic,
            resolution="fixed", internal_success=True)  # fmt: skip
    w.say(person, start + timedelta(hours=2), "Thanks, quick and kind.", 0.8, "gratitude",
          case_id=cid, channel="email")  # fmt: skip
    return cid
