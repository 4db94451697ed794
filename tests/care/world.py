"""A small hand-made world for special care: the stages it reads are stood in by fixture tables.

``event_persons`` maps each event to its ``userId``; ``text_analysis`` gets fixed scores per
message (no model); ``profiles`` gets CLV. Events are stored the way ingestion stores them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from empatia.experience.config import ExperienceConfig
from empatia.experience.effort import build_journeys
from empatia.store import Store
from empatia.store.engine import DuckDBEngine

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


class World:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.texts: dict[str, dict[str, Any]] = {}

    def event(self, person: str, days_ago: float, type: str = "track", event: str | None = None,
              **body: Any) -> str:  # fmt: skip
        mid = uuid.uuid4().hex
        raw = {"type": type, "messageId": mid, "userId": person, **body}
        if event:
            raw["event"] = event
        ts = NOW - timedelta(days=days_ago)
        raw["timestamp"] = ts.isoformat()
        self.store.con.execute(
            "insert into events (message_key, message_id, type, event, user_id, \"timestamp\","
            " received_at, source, raw) values (md5_number(?1), ?1, ?2, ?3, ?4, ?5, ?5, 'key:test', ?6)",
            [mid, type, event, person, ts, json.dumps(raw)],
        )  # fmt: skip
        return mid

    def traits(self, person: str, days_ago: float = 300, **traits: Any) -> None:
        self.event(person, days_ago, "identify", traits=traits, context={"channel": "crm"})

    def say(self, person: str, days_ago: float, text: str, score: float, emotion: str = "neutral",
            anger: float = 0.0, threats: tuple[str, ...] = (), event: str = "Message Sent",
            case_id: str | None = None, **props: Any) -> str:  # fmt: skip
        mid = self.event(person, days_ago, event=event,
                         properties={"text": text, "case_id": case_id, **props},
                         context={"channel": "chat"})  # fmt: skip
        self.texts[mid] = {"score": score, "emotion": emotion, "anger": anger, "threats": threats}
        return mid

    def case(self, person: str, case_id: str, topic: str, contact_days_ago: list[float],
             resolved_days_ago: float | None = None, wait_s: int = 600, success: bool = True) -> None:  # fmt: skip
        self.event(person, contact_days_ago[0] + 0.001, event="Case Opened",
                   properties={"case_id": case_id, "topic": topic})  # fmt: skip
        for k, d in enumerate(contact_days_ago):
            self.event(person, d, event="Support Contact",
                       properties={"case_id": case_id, "topic": topic, "wait_seconds": wait_s,
                                   "channel": ("email", "phone", "chat")[k % 3], "transferred": False})  # fmt: skip
        if resolved_days_ago is not None:
            self.event(person, resolved_days_ago, event="Case Resolved",
                       properties={"case_id": case_id, "topic": topic, "resolution": "fixed",
                                   "internal_success": success})  # fmt: skip

    def value(self, person: str, clv: float) -> None:
        self.store.con.execute("insert into profiles (person_id, clv_12m, revenue) values (?, ?, ?)",
                               [person, clv, clv])  # fmt: skip

    def finish(self) -> None:
        """Stand in for identity and emotion (event_persons, text_analysis), then measure the
        service journeys as the experience stage does (care reads them from there)."""
        con = self.store.con
        con.execute("create or replace table event_persons as "
                    "select seq, user_id as person_id from events")  # fmt: skip
        con.execute("delete from text_analysis")
        for mid, t in self.texts.items():
            esc = json.dumps([{"cue": c} for c in t["threats"]])
            sentiment = (
                "negative" if t["score"] < -0.2 else "positive" if t["score"] > 0.2 else "neutral"
            )
            con.execute(
                """insert into text_analysis (seq, message_id, user_id, "timestamp", event, channel,
                       text_hash, language, sentiment, score, anger, frustration, dominant_emotion,
                       effort, escalation, n_effort, n_escalation, analyzer)
                   select seq, message_id, user_id, "timestamp", event, 'chat', md5(message_id), 'en',
                          ?, ?, ?, 0, ?, '[]', ?, 0, ?, 'fixture'
                   from events where message_id = ?""",
                [sentiment, t["score"], t["anger"], t["emotion"], esc, len(t["threats"]), mid],
            )  # fmt: skip
        with DuckDBEngine(self.store) as eng:
            build_journeys(eng, con, ExperienceConfig())


def build(store: Store) -> World:
    """The musician whose guitar broke, a happy celebrity, an angry nobody, an old grudge."""
    w = World(store)
    w.traits("musician", profession="musician", followers=184000,
             followers_by_network={"youtube": 83000, "instagram": 64000, "tiktok": 37000})  # fmt: skip
    w.case("musician", "C1", "instrument", [10, 7.7, 5.4, 3.1])
    w.say("musician", 9.9, "My guitar arrived broken.", -0.5, "sadness", case_id="C1")
    w.say(
        "musician",
        7.6,
        "Still nothing, second time I write.",
        -0.7,
        "frustration",
        0.4,
        case_id="C1",
    )
    w.say("musician", 3.0, "I will tell all my followers about this.", -0.9, "anger", 0.9,
          threats=("public",), case_id="C1")  # fmt: skip
    w.say("musician", 1.0, "Worst service ever, a song is coming.", -0.95, "anger", 0.95,
          threats=("public",), event="Review Submitted", rating=1, public=True)  # fmt: skip
    w.value("musician", 900)

    w.traits("celebrity", profession="journalist", followers=2_000_000, vip=True, press=True)
    w.case("celebrity", "C2", "delivery", [20], resolved_days_ago=19.5)
    w.say("celebrity", 19.4, "Thanks, that was quick!", 0.9, "gratitude")
    w.value("celebrity", 3000)

    w.case("nobody", "C3", "refund", [12, 10, 8, 6, 4, 2])
    for d in (11.9, 7.9, 1.9):
        w.say("nobody", d, "I want my money back, I'll sue you.", -0.9, "anger", 0.9,
              threats=("legal",), case_id="C3")  # fmt: skip
    w.value("nobody", 5000)

    w.traits("grudge", profession="blogger", followers=90000)
    w.case("grudge", "C4", "damaged", [200, 195])
    w.say(
        "grudge",
        195,
        "This is a disgrace, I will post it.",
        -0.9,
        "anger",
        0.9,
        threats=("public",),
    )

    w.traits("fan", profession="blogger", followers=12000, referrals=30)
    w.case("fan", "C5", "app", [6, 4], resolved_days_ago=3.5)
    w.say("fan", 3.4, "Took two tries but fixed, ok.", -0.3, "disappointment")
    for i in range(5):
        w.say(f"quiet{i}", 5 + i, "Fine.", 0.1)
    w.event("zz_now", 0, event="Page Viewed")  # "now" is the latest event
    w.finish()
    return w
