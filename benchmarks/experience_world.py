"""Benchmark: the experience and journeys stages on a demo world, and their quality.

    python benchmarks/experience_world.py --db world.duckdb --truth <folder with demo_truth_*.parquet>

The store must hold the world's events and identity's ``event_persons`` (``empatia demo`` or
``benchmarks/identity_world.py`` make one). When the emotion stage has not filled
``text_analysis``, ``--texts truth`` stands in for it with the truth's emotion per text (an
oracle: it measures the experience rules, not the emotion model).

Prints the time of each stage, and precision/recall against the truth for "succeeded but
hurt" journeys and for bot-like survey submissions.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import pandas as pd

from empatia.workspace import Workspace

#: Sentiment in [-1, 1] for each emotion of the truth (the oracle stand-in for text_analysis).
EMOTION_SCORE = {"anger": -0.8, "frustration": -0.6, "disappointment": -0.5, "sadness": -0.5,
                 "fear": -0.3, "neutral": 0.0, "surprise": 0.2, "joy": 0.7, "gratitude": 0.8}  # fmt: skip


def oracle_texts(con, truth: Path) -> int:  # type: ignore[no-untyped-def]
    t = pd.read_parquet(truth / "demo_truth_texts.parquet")[["message_id", "emotion", "language"]]
    t["score"] = t["emotion"].map(EMOTION_SCORE).fillna(0.0)
    con.register("_truth_texts", t)
    con.execute("delete from text_analysis")
    con.execute("""
        insert into text_analysis (seq, message_id, user_id, anonymous_id, "timestamp", event,
            channel, text_hash, language, sentiment, score, dominant_emotion, n_effort, analyzer)
        select e.seq, e.message_id, e.user_id, e.anonymous_id, e."timestamp", e.event,
               json_extract_string(e.raw, '$.context.channel'), md5(e.message_id), t.language,
               case when t.score < -0.2 then 'negative' when t.score > 0.2 then 'positive'
                    else 'neutral' end, t.score, t.emotion, 0, 'oracle:truth'
        from events e join _truth_texts t using (message_id)
    """)
    con.unregister("_truth_texts")
    return int(con.execute("select count(*) from text_analysis").fetchone()[0])


def pr(flagged: set[str], truth: set[str]) -> dict[str, float]:
    tp = len(flagged & truth)
    p = tp / len(flagged) if flagged else 0.0
    r = tp / len(truth) if truth else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "flagged": len(flagged),
            "truth": len(truth)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--texts", choices=("analysis", "truth"), default="analysis")
    a = ap.parse_args()
    ws = Workspace(db=a.db)
    con = ws.store.con
    if a.texts == "truth":
        print(f"text_analysis stood in by the truth: {oracle_texts(con, a.truth):,} texts")
    times, cpu = {}, {}
    for name in ("journeys", "experience"):  # as `empatia run --full --only NAME` runs them
        t0, c0 = time.perf_counter(), time.process_time()
        figures = ws.run(only=[name], full=True)[0]["figures"]
        times[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
        print(f"stage {name}: {times[name]:.1f} s wall, {cpu[name]:.1f} s CPU  {figures}")
    print(f"journeys + experience: {sum(times.values()):.1f} s wall, {sum(cpu.values()):.1f} s CPU "
          f"(all threads) on {os.cpu_count()} cores ({platform.machine()}, load average "
          f"{os.getloadavg()[0]:.1f})")  # fmt: skip
    tj = pd.read_parquet(a.truth / "demo_truth_journeys.parquet")
    hurt = set(con.execute(
        "select case_id from experience_journeys where succeeded_but_hurt").fetchnumpy()["case_id"])  # fmt: skip
    print("succeeded but hurt vs truth:", pr(hurt, set(tj.loc[tj.succeeded_but_hurt, "case_id"])))
    planted = set(tj.loc[tj.planted == "seven_steps", "case_id"])
    print(f"planted seven-steps journeys flagged: {len(planted & hurt)}/{len(planted)}")
    ts = pd.read_parquet(a.truth / "demo_truth_surveys.parquet")
    bots = set(con.execute(
        "select message_id from survey_responses where excluded").fetchnumpy()["message_id"])  # fmt: skip
    print("bot-like answers vs truth:", pr(bots, set(ts.loc[ts.is_bot, "message_id"])))
    ws.close()


if __name__ == "__main__":
    main()
