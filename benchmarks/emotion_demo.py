"""The emotion stage on the demo world (#3): time per text, and accuracy against its truth.

    .venv/bin/python benchmarks/emotion_demo.py [--customers 2000] [--encoder-sample 1000]

The analyzers were never tuned on these texts; this is a separate, out-of-domain check.
Builds a world, loads its text touchpoints into an in-memory store, runs the stage with
``fast`` on all texts and ``encoder`` on a sample, and compares language, sentiment and the
dominant emotion with the world's truth. Prints a Markdown section to append to
benchmarks/results/emotion.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import orjson
import pandas as pd

from empatia.demo.texts import SENTIMENT
from empatia.demo.world import build_world
from empatia.emotion.incremental import run_emotion, set_config
from empatia.store import Store
from empatia.store.store import discover_migrations

LANGS = ("en", "pl", "ru", "fa", "de", "es", "fr")


def load_texts(files, limit: int | None) -> list[dict]:
    out = []
    for path in files.events:
        with open(path, encoding="utf-8") as f:
            for line in f:
                ev = json.loads(line)
                props = ev.get("properties") or {}
                if ev.get("type") == "track" and (
                    isinstance(props.get("text"), str) or isinstance(props.get("comment"), str)
                ):
                    out.append(ev)
    return out[:limit] if limit else out


def run(events: list[dict], analyzer: str) -> tuple[float, pd.DataFrame, dict]:
    with Store(":memory:", migrate=False) as s:
        s.migrate(discover_migrations(("store", "ingest", "identity", "emotion")))
        con = s.con
        df = pd.DataFrame(
            {
                "seq": range(1, len(events) + 1),
                "message_id": [ev.get("messageId") or f"m{i}" for i, ev in enumerate(events)],
                "event": [ev.get("event") for ev in events],
                "user_id": [ev.get("userId") for ev in events],
                "anonymous_id": [ev.get("anonymousId") for ev in events],
                "ts": [ev.get("timestamp") or "2026-01-01T00:00:00Z" for ev in events],
                "raw": [orjson.dumps(ev).decode() for ev in events],
            }
        )
        con.register("demo_events", df)
        con.execute(
            "insert into events (seq, message_key, message_id, type, event, user_id, anonymous_id, "
            '"timestamp", received_at, source, raw) select seq, md5_number(message_id || seq::varchar), '
            "message_id, 'track', event, user_id, anonymous_id, ts::timestamptz, now(), 'demo', raw "
            "from demo_events"
        )
        set_config(con, "analyzer", analyzer)
        t0 = time.perf_counter()
        figures = run_emotion(con, LANGS)
        secs = time.perf_counter() - t0
        df = con.execute(
            "select message_id, language, sentiment, dominant_emotion, n_effort, "
            "n_escalation from text_analysis"
        ).df()
    return secs, df, figures


def score(df: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    m = df.merge(truth, on="message_id", suffixes=("", "_true"))
    m["sentiment_true"] = m["emotion"].map(SENTIMENT)
    from sklearn.metrics import f1_score

    return {
        "n": len(m),
        "language_acc": float((m["language"] == m["language_true"]).mean()),
        "sentiment_macro_f1": float(f1_score(m["sentiment_true"], m["sentiment"], average="macro")),
        "emotion_acc_non_neutral": float(
            (
                m.loc[m.emotion != "neutral", "dominant_emotion"]
                == m.loc[m.emotion != "neutral", "emotion"]
            ).mean()
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--encoder-sample", type=int, default=1000)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="empatia-demo-"))
    files = build_world(out, customers=args.customers, seed=42)
    truth = pd.read_parquet(files.truth["texts"]).rename(columns={"language": "language_true"})
    events = load_texts(files, None)
    lines = [
        f"\n## Demo world (#3, {args.customers:,} customers, seed 42; never tuned on)\n",
        "| analyzer | texts | seconds | texts/s | language acc. | sentiment macro-F1 | dominant emotion acc. (non-neutral) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, evs in (("fast", events), ("encoder", events[: args.encoder_sample])):
        secs, df, _ = run(evs, name)
        sc = score(df, truth)
        lines.append(
            f"| {name} | {len(evs):,} | {secs:.1f} | {len(evs) / secs:.0f} | {sc['language_acc']:.3f} | "
            f"{sc['sentiment_macro_f1']:.3f} | {sc['emotion_acc_non_neutral']:.3f} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
