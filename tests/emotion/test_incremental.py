"""The emotion stage between runs: one analyzer per workspace, writes that cannot be torn."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from empatia.emotion.config import EmotionSettings
from empatia.emotion.incremental import run_emotion
from empatia.store import Store
from empatia.store.store import discover_migrations
from tests.emotion.test_stage import LANGS, add

COMPONENTS = ("store", "ingest", "identity", "emotion")  # emotion reads identity's event_persons


def _texts(con, start: int = 1) -> None:
    add(con, start, "u1", "Message Sent", {"text": "I called seven times. Nobody answers! Awful."})
    add(con, start + 1, "u2", "Review Submitted", {"text": "Thank you, lovely shoes!"})
    add(con, start + 2, "u3", "Message Sent", {"text": "Where is my parcel? It is late again."})


def test_auto_is_chosen_once_and_kept_for_the_texts_that_follow() -> None:
    # A big first backlog picks the fast analyzer; three new texts later must not switch to
    # the encoder (one store, one analyzer), and the choice is the workspace's setting.
    with Store(":memory:", migrate=False) as s:
        s.migrate(discover_migrations(COMPONENTS))
        _texts(s.con)
        opts = EmotionSettings(auto_fast_above=2, themes=False)
        assert run_emotion(s.con, LANGS, opts)["analyzer"].startswith("fast:")
        add(s.con, 10, "u4", "Message Sent", {"text": "Still no refund after two weeks."})
        figures = run_emotion(s.con, LANGS, opts)
        assert figures["texts"] == 1 and figures["analyzer"].startswith("fast:")
        used = {r[0] for r in s.con.execute("select analyzer from text_analysis").fetchall()}
        assert len(used) == 1 and next(iter(used)).startswith("fast:")
        setting = s.con.execute("select value from emotion_config where key = 'analyzer'")
        assert setting.fetchone() == ("fast",)


def test_an_explicit_switch_is_reported_not_mixed_silently() -> None:
    with Store(":memory:", migrate=False) as s:
        s.migrate(discover_migrations(COMPONENTS))
        _texts(s.con)
        run_emotion(s.con, LANGS, EmotionSettings(analyzer="fast"))
        s.con.execute("update text_analysis set analyzer = 'fast:0'")  # an older version's
        figures = run_emotion(s.con, LANGS, EmotionSettings(analyzer="fast"))
        assert figures["other_analyzer"] == 3  # says so; `emotion reanalyze` redoes them


def test_many_new_texts_are_analysed_in_a_bounded_number_of_parts(monkeypatch) -> None:
    # each part is a memo write and a branch the driver plans: their number must not grow
    # with the backlog (179 at 1M people, and the Spark driver's memory grew with them)
    from empatia.emotion import incremental
    from empatia.store.engine import DuckDBEngine

    def analysed(parts: int | None) -> tuple[list[tuple[object, ...]], int]:
        memos = []
        real = DuckDBEngine.memo
        with monkeypatch.context() as m:
            if parts is not None:
                m.setattr(incremental, "PART_TEXTS", 1)
                m.setattr(incremental, "MAX_PARTS", parts)
            m.setattr(DuckDBEngine, "memo", lambda self, *a: (memos.append(1), real(self, *a)))
            with Store(":memory:", migrate=False) as s:
                s.migrate(discover_migrations(COMPONENTS))
                _texts(s.con)
                _texts(s.con, 10)  # the same three texts again: three distinct in all
                add(s.con, 20, "u4", "Message Sent", {"text": "Still no refund after two weeks."})
                figures = run_emotion(s.con, LANGS, EmotionSettings(analyzer="fast", themes=False))
                assert figures["texts"] == 7 and figures["analysed"] == 4
                rows = s.con.execute("select seq, sentiment, text_hash from text_analysis"
                                     " order by seq").fetchall()  # fmt: skip
                return rows, len(memos)

    whole, one = analysed(None)  # 4 texts: one part of PART_TEXTS
    capped, two = analysed(2)  # a part a text, capped at two parts
    assert (one, two) == (1, 2) and capped == whole and len(whole) == 7


_KILL_IN_WRITE = """
import os, signal, sys
from empatia.emotion import incremental
from empatia.emotion.config import EmotionSettings
from empatia.emotion.stage import STAGE
from empatia.store import Store
from empatia.store.engine import DuckDBEngine
from empatia.store.scoped import StageStore

real = DuckDBEngine.write
def write(self, expr, table, **kw):
    n = real(self, expr, table, **kw)
    if table == "text_analysis":  # analyses written, their sentences not yet
        os.kill(os.getpid(), signal.SIGKILL)
    return n
DuckDBEngine.write = write
with Store(sys.argv[1], migrate=False) as s:
    incremental.run_emotion(StageStore(s, "emotion", STAGE.writes).con, ("en",),
                            EmotionSettings(analyzer="fast"))
"""


def test_a_kill_inside_the_write_leaves_no_analysis_and_keeps_the_models_memo(tmp_path: Path) -> None:
    """As the runner runs it (one transaction per stage): a kill -9 between writing the
    analyses and their sentences leaves neither; what the model computed is kept."""
    db = tmp_path / "e.duckdb"
    with Store(db, migrate=False) as s:
        s.migrate(discover_migrations(COMPONENTS))
        _texts(s.con)
    p = subprocess.run([sys.executable, "-c", _KILL_IN_WRITE, str(db)], capture_output=True,
                       timeout=300)  # fmt: skip
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    with Store(db, migrate=False) as s:
        count = lambda t: s.con.execute(f"select count(*) from {t}").fetchone()[0]  # noqa: E731
        assert (count("text_analysis"), count("text_sentences"), count("text_cache")) == (0, 0, 3)
        figures = run_emotion(s.con, ("en",), EmotionSettings(analyzer="fast"))
        assert figures["from_cache"] == 3 and figures["analysed"] == 0
        n = s.con.execute("select count(*) from text_sentences where seq = 1").fetchone()
        assert n == (3,)  # seq 1 has three sentences
        assert count("text_analysis") == 3


@pytest.mark.parametrize("full", [False, True])
def test_only_new_events_are_scanned_and_a_full_run_scans_again(full: bool) -> None:
    with Store(":memory:", migrate=False) as s:
        s.migrate(discover_migrations(COMPONENTS))
        _texts(s.con)
        run_emotion(s.con, LANGS, EmotionSettings(analyzer="fast"))
        _texts(s.con, start=10)
        figures = run_emotion(s.con, LANGS, EmotionSettings(analyzer="fast"), full=full)
        assert figures["texts"] == (6 if full else 3)
        assert s.con.execute("select count(*) from text_analysis").fetchone() == (6,)
