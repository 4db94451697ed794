"""A small world of two customers, with identifiers, texts and consent, stitched."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from empatia.ingest import import_files
from empatia.pipeline import RunContext, run_pipeline
from empatia.workspace import Workspace

ALA = {
    "user_id": "u-ala-7781",
    "anonymous_id": "anon-ala-5521",
    "email": "ala.kowalska.erase@example.com",
    "phone": "+48601234567",
    "text": "Paczka przyszła zniszczona, trzeci raz piszę w tej sprawie zlotykot",
}
BOB = {
    "user_id": "u-bob-1200",
    "email": "bob.keeper@example.org",
    "text": "Great service, the courier was lovely and quick bluebirdsong",
}


def world_events() -> list[dict[str, object]]:
    t = "2026-10-0{}T10:00:00Z"
    return [
        {"type": "identify", "anonymousId": ALA["anonymous_id"], "userId": ALA["user_id"],
         "messageId": "a1", "timestamp": t.format(1),
         "traits": {"email": ALA["email"], "phone": ALA["phone"], "firstName": "Ala"},
         "context": {"consent": {"marketing_email": True, "profiling": True}}},
        {"type": "track", "userId": ALA["user_id"], "event": "Order Completed", "messageId": "a2",
         "timestamp": t.format(2), "properties": {"order_id": "o1", "total": 120.5}},
        {"type": "track", "userId": ALA["user_id"], "event": "Message Sent", "messageId": "a3",
         "timestamp": t.format(3), "properties": {"text": ALA["text"], "channel": "chat"}},
        {"type": "track", "userId": ALA["user_id"], "event": "Consent Updated", "messageId": "a4",
         "timestamp": t.format(4),
         "properties": {"purpose": "partner_sharing", "granted": True, "legal_basis": "consent"}},
        {"type": "identify", "userId": BOB["user_id"], "messageId": "b1", "timestamp": t.format(1),
         "traits": {"email": BOB["email"]}},
        {"type": "track", "userId": BOB["user_id"], "event": "Review Submitted", "messageId": "b2",
         "timestamp": t.format(2), "properties": {"text": BOB["text"], "rating": 5}},
        {"type": "track", "userId": BOB["user_id"], "event": "Message Sent", "messageId": "b3",
         "timestamp": t.format(3),
         "properties": {"text": f"My friend {ALA['email']} recommended you, hello there"}},
    ]  # fmt: skip


def write_jsonl(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return path


def build(ws: Workspace, tmp: Path, stages: tuple[str, ...] = ("identity", "profiles", "privacy")) -> None:  # noqa: E501
    import_files(ws.store, [write_jsonl(tmp / "world.jsonl", world_events())])
    run_pipeline(RunContext(ws), only=stages)


def fake_emotion(ws: Workspace) -> None:
    """Rows as the emotion stage writes them (running its models costs half a minute)."""
    ws.store.con.execute(
        "insert into text_cache select md5(json_extract_string(raw, '$.properties.text')),"
        " 'test:1', '{\"sentiment\": \"neutral\"}' from events where raw like '%\"text\"%'"
    )
    ws.store.con.execute(
        "insert into text_analysis (seq, message_id, user_id, timestamp, event, text_hash,"
        " sentiment, score, analyzer) select seq, message_id, user_id, timestamp, event,"
        " md5(json_extract_string(raw, '$.properties.text')), 'negative', -0.5, 'test:1'"
        " from events where raw like '%\"text\"%'"
    )


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("world")
    ws = Workspace(db=d / "w.duckdb")
    build(ws, d)
    fake_emotion(ws)
    ws.store.checkpoint()
    ws.close()
    return d / "w.duckdb"


@pytest.fixture
def world(tmp_path: Path, world_template: Path) -> Iterator[Workspace]:
    """A fresh copy of the stitched two-person world for each test."""
    db = tmp_path / "w.duckdb"
    shutil.copy(world_template, db)
    ws = Workspace(db=db)
    yield ws
    ws.close()
