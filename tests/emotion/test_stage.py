"""The emotion stage: incremental, cached by text and analyzer, aggregates per touchpoint/person."""

from __future__ import annotations

import orjson
import pytest

from empatia.emotion.config import EmotionSettings
from empatia.emotion.incremental import forget_analyses, run_emotion, set_config
from empatia.store import Store
from empatia.store.store import discover_migrations

LANGS = ("en", "pl", "ru", "fa", "de", "es", "fr")


def add(
    con, seq: int, user: str, event: str, props: dict, ctx: dict | None = None, typ: str = "track"
):
    raw = {"type": typ, "event": event, "userId": user, "properties": props, "context": ctx or {}}
    con.execute(
        'insert into events (seq, message_key, message_id, type, event, user_id, "timestamp", '
        "received_at, source, raw) values (?, md5_number(?), ?, ?, ?, ?, "
        "timestamp '2026-01-01' + to_days(?), now(), 'test', ?)",
        [seq, f"m{seq}", f"m{seq}", typ, event, user, seq, orjson.dumps(raw).decode()],
    )


@pytest.fixture
def store():
    # only the components this stage reads and writes (other stages' schemas are theirs to test)
    with Store(":memory:", migrate=False) as s:
        s.migrate(discover_migrations(("store", "ingest", "identity", "emotion")))
        con = s.con
        add(
            con,
            1,
            "u1",
            "Message Sent",
            {"text": "Dzwoniłem siedem razy i nikt nie odbiera! Skandal."},
            {"channel": "chat", "locale": "pl-PL"},
        )
        add(con, 2, "u1", "Review Submitted", {"text": "Thank you, lovely shoes!", "rating": 5})
        add(
            con,
            3,
            "u2",
            "Survey Answered",
            {"survey": "nps", "score": 2, "comment": "I will go to the press."},
        )
        add(con, 4, "u2", "Product Viewed", {"product_id": "p1"})
        add(con, 5, "u3", "Review Submitted", {"text": "Thank you, lovely shoes!", "rating": 5})
        add(con, 6, "u3", "Order Completed", {"text": 5})  # not a string: not a text touchpoint
        set_config(con, "analyzer", "fast")
        yield s


def test_stage_analyses_text_touchpoints_once(store):
    con = store.con
    figures = run_emotion(con, LANGS)
    assert figures["texts"] == 4
    assert figures["analysed"] == 3 and figures["from_cache"] == 1  # seq 5 repeats seq 2
    rows = dict(con.execute("select seq, sentiment from text_analysis").fetchall())
    assert set(rows) == {1, 2, 3, 5}
    assert rows[1] == "negative" and rows[2] == "positive"
    lang, channel, effort = con.execute(
        "select language, channel, effort from text_analysis where seq = 1"
    ).fetchone()
    assert (lang, channel) == ("pl", "chat")
    assert {
        "cue": "repeated_contact",
        "n": 7,
        "unit": "contact",
        "category": "effort",
    } in orjson.loads(effort)
    esc = con.execute("select escalation from text_analysis where seq = 3").fetchone()[0]
    assert orjson.loads(esc)[0]["cue"] == "public"
    assert con.execute("select count(*) from text_sentences where seq = 1").fetchone()[0] == 2
    assert con.execute("select count(*) from touchpoint_emotion").fetchone()[0] == 3
    # incremental: nothing new, nothing redone
    again = run_emotion(con, LANGS)
    assert again["texts"] == 0 and again["analysed"] == 0
    add(con, 7, "u3", "Message Sent", {"text": "Still no refund after two weeks."})
    assert run_emotion(con, LANGS)["texts"] == 1


def test_person_aggregates_when_identity_ran(store):
    con = store.con
    con.execute("insert into event_persons (seq, person_id) values (1,'p1'),(2,'p1'),(3,'p2'),(4,'p2'),(5,'p3')")
    figures = run_emotion(con, LANGS)
    assert figures["persons"] == 3
    n, last = con.execute(
        "select n_texts, last_sentiment from person_emotion where person_id = 'p1'"
    ).fetchone()
    assert n == 2 and last == "positive"  # seq 2 is p1's latest text


def test_reanalysis_with_another_analyzer_is_one_call(store):
    con = store.con
    run_emotion(con, LANGS)
    assert forget_analyses(con, keep_analyzer="fast:other") == 4
    figures = run_emotion(con, LANGS)
    assert figures["texts"] == 4 and figures["from_cache"] == 4  # same analyzer version: cached


def test_auto_uses_fast_for_big_backlogs(store):
    con = store.con
    con.execute("delete from emotion_config")
    figures = run_emotion(con, LANGS, EmotionSettings(auto_fast_above=2, themes=False))
    assert figures["analyzer"].startswith("fast:")


def test_encoder_stage_writes_themes(store):
    con = store.con
    set_config(con, "analyzer", "encoder")
    add(con, 8, "u4", "Message Sent", {"text": "Przesyłka nie dotarła, kurier zgubił paczkę."})
    run_emotion(con, LANGS)
    themes, analyzer = con.execute(
        "select themes, analyzer from text_analysis where seq = 8"
    ).fetchone()
    assert "delivery" in orjson.loads(themes) and analyzer.startswith("encoder:")


def test_redaction_before_analysis(store):
    con = store.con
    add(con, 9, "u5", "Message Sent", {"text": "Call me on +48 601 234 567, I called 3 times!"})
    add(con, 10, "u6", "Message Sent", {"text": "Call me on +48 601 999 888, I called 3 times!"})
    run_emotion(con, LANGS, EmotionSettings(redact=True))
    # both texts redact to the same words, so the second one comes from the cache
    hashes = {
        h
        for (h,) in con.execute(
            "select text_hash from text_analysis where seq in (9, 10)"
        ).fetchall()
    }
    assert len(hashes) == 1


def test_a_run_that_fails_keeps_the_models_memo_and_leaves_no_analyses(store, monkeypatch):
    """In the runner the stage is one transaction; what the model computed is a memo kept
    apart, so the run after a failure (or a kill) does not analyse the same texts again."""
    import empatia.emotion.incremental as inc
    from empatia.emotion.stage import STAGE
    from empatia.store.scoped import StageStore

    def boom(con):
        raise RuntimeError("after the model")

    monkeypatch.setattr(inc, "rebuild_aggregates", boom)
    db = StageStore(store, "emotion", STAGE.writes)
    with pytest.raises(RuntimeError, match="after the model"):
        run_emotion(db.con, LANGS)
    db.rollback()
    count = lambda t: store.con.execute(f"select count(*) from {t}").fetchone()[0]  # noqa: E731
    assert count("text_analysis") == 0 and count("text_cache") == 3  # two texts are the same
    monkeypatch.undo()
    figures = run_emotion(store.con, LANGS)
    assert figures["texts"] == 4 and figures["analysed"] == 0 and figures["from_cache"] == 4


def test_the_results_memo_keeps_its_key_so_an_upgrade_reanalyses_nothing(store):
    """The memo's key (analyzer version + theme anchors' version) is the one the anchors in
    their own order give: stores analysed before keep every cached result."""
    from empatia.emotion.registry import get_analyzer
    from empatia.emotion.themes import ThemeMatcher, load_anchors

    set_config(store.con, "analyzer", "encoder")
    run_emotion(store.con, LANGS)
    encoder = get_analyzer("encoder", languages=LANGS)
    version = ThemeMatcher(encoder.embed, load_anchors(store.con)).version
    keys = {r[0] for r in store.con.execute("select distinct analyzer from text_cache").fetchall()}
    assert keys == {f"{encoder.key}+themes:{version}"}
