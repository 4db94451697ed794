"""The emotion stage on Spark: the analyzer runs in Spark's Python workers (``mapInArrow``),
the aggregates are Ibis on Spark, and every row is the one DuckDB makes in process."""

from __future__ import annotations

import os
from typing import Any

import pytest

from empatia.emotion.config import EmotionSettings
from empatia.emotion.incremental import run_emotion
from empatia.store import Store
from empatia.store.engine import connect
from empatia.store.store import discover_migrations
from tests.emotion.test_incremental import COMPONENTS, _texts
from tests.emotion.test_stage import LANGS, add

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1"),
]

_COLUMNS = ("seq, message_id, user_id, event, channel, text_hash, n_chars, language, sentiment, "
            "round(score, 6), dominant_emotion, effort, escalation, n_effort, n_escalation, "
            "themes, analyzer")  # fmt: skip


def _analyses(engine: str, session: Any = None) -> dict[str, Any]:
    with Store(":memory:", migrate=False) as s:
        s.migrate(discover_migrations(COMPONENTS))
        _texts(s.con)
        add(s.con, 4, "u4", "Review Submitted", {"comment": "Czekam trzeci tydzień, nikt nie odpowiada."})
        add(s.con, 5, "u5", "Message Sent", {"text": 42})  # not a text
        add(s.con, 6, "u1", "Message Sent", {"text": "Thank you, lovely shoes!"})  # cached
        eng = None if engine == "duckdb" else connect(s, engine, session=session)
        figures = run_emotion(s.con, LANGS, EmotionSettings(analyzer="fast"), eng=eng)
        if eng is not None:
            eng.close()
        return {
            "figures": figures,
            "rows": s.con.execute(f"select {_COLUMNS} from text_analysis order by seq").fetchall(),
            "sentences": s.con.execute(
                "select seq, idx, sentiment, round(score, 6) from text_sentences order by all"
            ).fetchall(),
            "memo": s.con.execute("select count(*) from text_cache").fetchone(),
            "touchpoints": s.con.execute(
                "select event, channel, n_texts, round(mean_score, 6), round(share_negative, 6)"
                " from touchpoint_emotion order by all"
            ).fetchall(),
        }


def test_the_analyzer_runs_on_spark_and_makes_the_same_analyses(spark_session: Any) -> None:
    spark, duck = _analyses("spark", spark_session), _analyses("duckdb")
    assert spark == duck
    assert duck["figures"]["texts"] == 5 and duck["figures"]["analysed"] == 4
    assert [r[0] for r in duck["rows"]] == [1, 2, 3, 4, 6] and duck["memo"] == (4,)
    assert sum(r[2] for r in duck["touchpoints"]) == 5


def test_auto_is_chosen_on_the_engine_not_by_the_drivers_duckdb(spark_session: Any) -> None:
    """``auto`` counts the backlog where the run runs: on Spark the executors read the event
    log. The driver's DuckDB reading the 1M world's for it peaked at 3.6 GB (#17); the Spark
    tests' guard (``tests/conftest.py``) fails the test if a DuckDB engine is opened."""
    with Store(":memory:", migrate=False) as s:
        s.migrate(discover_migrations(COMPONENTS))
        _texts(s.con)
        eng = connect(s, "spark", session=spark_session)
        try:
            figures = run_emotion(s.con, LANGS, EmotionSettings(auto_fast_above=2, themes=False),
                                  eng=eng)  # fmt: skip
        finally:
            eng.close()
    assert figures["analyzer"].startswith("fast:") and figures["analysed"] == 3  # 3 > 2 pending
