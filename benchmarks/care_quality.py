"""Special care (#7) on the demo world, measured against its truth.

Builds the demo world (or reuses a built one with ``--dir``), imports it, runs identity,
profiles, emotion (and experience when installed), then the care stage, and reports:

- the rank of the planted special-care case (the musician, "United Breaks Guitars"; goal: top 5);
- precision@k and recall@k against ``demo_truth_people.special_care`` for the combination
  (influence × risk × value) and for two single-sided rules: influence alone (rank everyone by
  influence) and emotion alone (rank by risk from the customer's words only);
- timings of the care stage.

Store persons are mapped to truth persons through their ``user_id`` identifiers.

    .venv/bin/python benchmarks/care_quality.py --customers 20000 --record
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from empatia.care.config import load_weights
from empatia.care.inputs import read_inputs
from empatia.care.scoring import influence_scores, score_people
from empatia.pipeline import STAGES, RunContext, run_pipeline
from empatia.workspace import Workspace

RESULTS = Path(__file__).parent / "results" / "care.md"


def prepare(
    out: Path, customers: int, seed: int, analyzer: str, skip: tuple[str, ...] = ()
) -> tuple[Workspace, dict[str, float]]:
    from empatia.demo.world import build_world
    from empatia.ingest.importer import import_files

    times: dict[str, float] = {}
    db = out / "care_bench.duckdb"
    fresh = not db.exists()
    if fresh:
        t = time.perf_counter()
        files = build_world(out, customers=customers, seed=seed)
        times["world"] = time.perf_counter() - t
    ws = Workspace(db=str(db))
    if fresh:
        t = time.perf_counter()
        import_files(ws.store, files.events)
        times["import"] = time.perf_counter() - t
    opts = {"emotion": {"analyzer": analyzer, "themes": False}, "care": {"deliver": False}}
    wanted = [
        s
        for s in ("identity", "profiles", "emotion", "experience")
        if (fresh or s == "experience") and s not in skip
    ]
    ctx = RunContext(ws, settings=opts)
    from empatia.pipeline import ordered_stages

    ordered_stages()  # load the built-in stages
    for name in wanted:
        if name in STAGES:
            t = time.perf_counter()
            run_pipeline(ctx, [name])
            times[name] = time.perf_counter() - t
    return ws, times


def oracle_emotion(ws: Workspace, out: Path) -> int:
    """Fill ``text_analysis`` from the truth's labels instead of a model (an upper bound that
    measures special care's own logic): negative emotions score -0.8, positive +0.8; a truth
    ``threat`` becomes a ``public`` escalation cue."""
    texts = pd.read_parquet(out / "demo_truth_texts.parquet")
    texts["score"] = texts.sentiment.map({"negative": -0.8, "positive": 0.8}).fillna(0.0)
    con = ws.store.con
    con.execute("delete from text_analysis")
    con.register("truth_texts", texts[["message_id", "sentiment", "score", "emotion", "threat"]])
    con.execute("""
        insert into text_analysis (seq, message_id, user_id, anonymous_id, "timestamp", event,
            channel, text_hash, language, sentiment, score, anger, frustration, dominant_emotion,
            effort, escalation, n_effort, n_escalation, analyzer)
        select e.seq, e.message_id, e.user_id, e.anonymous_id, e."timestamp", e.event, 'unknown',
               md5(e.message_id), null, t.sentiment, t.score,
               (t.emotion = 'anger')::double, (t.emotion = 'frustration')::double, t.emotion, '[]',
               case when t.threat then '[{"cue":"public"}]' else '[]' end, 0, t.threat::int, 'oracle'
        from events e join truth_texts t using (message_id)""")
    con.unregister("truth_texts")
    return len(texts)


def truth_map(ws: Workspace, out: Path) -> pd.DataFrame:
    ids = pd.read_parquet(out / "demo_truth_identifiers.parquet")
    ids = ids[(ids.kind == "user_id") & ~ids.shared][["value", "person_id"]]
    ours = ws.store.con.execute(
        "select value, person_id as ours from identities where kind = 'user_id'"
    ).df()
    m = ours.merge(ids, on="value")
    return (
        m.groupby("ours")["person_id"].agg(lambda s: s.mode().iloc[0]).rename("truth").reset_index()
    )


def metrics(
    ranked: list[str], positives: set[str], ks: tuple[int, ...] = (5, 10, 20)
) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ks:
        hit = len(set(ranked[:k]) & positives)
        out[f"p@{k}"] = hit / k
        out[f"r@{k}"] = hit / len(positives) if positives else 0.0
    r = len(positives)
    out["r_precision"] = len(set(ranked[:r]) & positives) / r if r else 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir", type=Path, help="Reuse (or build into) this folder.")
    ap.add_argument("--analyzer", default="fast", help="Emotion analyzer (fast: CPU-friendly).")
    ap.add_argument(
        "--oracle-emotion",
        action="store_true",
        help="Use the truth's emotion labels instead of the emotion stage.",
    )
    ap.add_argument("--record", action="store_true", help=f"Append the results to {RESULTS}.")
    args = ap.parse_args()
    out = args.dir or Path(tempfile.mkdtemp(prefix="care_bench_"))
    out.mkdir(parents=True, exist_ok=True)
    skip = ("emotion",) if args.oracle_emotion else ()
    ws, times = prepare(out, args.customers, args.seed, args.analyzer, skip)
    con = ws.store.con
    w = load_weights()
    if args.oracle_emotion:
        oracle_emotion(ws, out)
        args.analyzer = "oracle (truth labels)"

    t = time.perf_counter()
    from empatia.care.build import run_care

    figures = run_care(con, w, deliver=False)
    times["care"] = time.perf_counter() - t

    world = json.loads((out / "demo_world.json").read_text())
    people = pd.read_parquet(out / "demo_truth_people.parquet")
    positives = set(people.loc[people.special_care, "person_id"])
    planted = world["planted"]["special_care"][0]
    tm = truth_map(ws, out)
    to_truth = dict(zip(tm.ours, tm.truth, strict=True))

    listed = con.execute("select person_id from care_list order by rank").fetchall()
    combo = [to_truth.get(p, p) for (p,) in listed]
    inp = read_inputs(con, w.risk.window_days)
    scored = score_people(inp, w)
    inf_all = influence_scores(inp.traits, inp.reviews, w).sort_values(
        ["influence", "person_id"], ascending=[False, True])  # fmt: skip
    rules = {
        "combination (influence × risk × value)": combo,
        "influence alone": [to_truth.get(p, p) for p in inf_all.person_id],
        "emotion alone (words)": [to_truth.get(p, p) for p in scored.sort_values(
            ["emotion_risk", "person_id"], ascending=[False, True]).person_id],
        "risk alone (words + journeys)": [to_truth.get(p, p) for p in scored.sort_values(
            ["risk", "person_id"], ascending=[False, True]).person_id],
    }  # fmt: skip
    rows = []
    for name, ranked in rules.items():
        m = metrics(ranked, positives)
        rank = ranked.index(planted) + 1 if planted in ranked else None
        rows.append((name, rank, m))
        print(f"{name:<42} planted rank {rank}  " + "  ".join(f"{k} {v:.2f}" for k, v in m.items()))
    print("listed", len(listed), "positives", len(positives), "figures", figures, "times", times)
    top = con.execute("select rank, person_id, round(score, 3), explanation from care_list "
                      "order by rank limit 5").fetchall()  # fmt: skip
    for r in top:
        print(
            r[0],
            to_truth.get(r[1], r[1]),
            "*" if to_truth.get(r[1]) in positives else " ",
            r[2],
            r[3],
        )
    if args.record:
        record(args, rows, positives, len(listed), times, top, to_truth, figures)
    ws.close()


def record(args: argparse.Namespace, rows: list, positives: set[str], n_listed: int,
           times: dict[str, float], top: list, to_truth: dict[str, str], figures: dict) -> None:  # fmt: skip
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## {now}: {args.customers:,} customers, seed {args.seed}, emotion analyzer `{args.analyzer}`\n",
        f"Machine: {platform.machine()}, 2 shared cores. Truth positives (special_care): "
        f"{len(positives)}; listed: {n_listed}; journeys read from `{figures.get('journeys_from')}`.\n",
        "| rule | planted case rank | P@5 | P@10 | P@20 | R@5 | R@10 | R@20 | R-precision |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rank, m in rows:
        lines.append(
            f"| {name} | {rank or '–'} | {m['p@5']:.2f} | {m['p@10']:.2f} | {m['p@20']:.2f} | "
            f"{m['r@5']:.2f} | {m['r@10']:.2f} | {m['r@20']:.2f} | {m['r_precision']:.2f} |"
        )
    lines.append("\nTop 5 (truth id, * = truth special care):\n")
    for r in top:
        tid = to_truth.get(r[1], r[1])
        lines.append(f"{r[0]}. {tid}{' *' if tid in positives else ''} — {r[2]} — {r[3]}")
    lines.append("\nTimings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not RESULTS.exists():
        RESULTS.write_text("# Special care (#7): quality on the demo world\n\n"
                           "Command: `.venv/bin/python benchmarks/care_quality.py --customers N --record`\n")  # fmt: skip
    with RESULTS.open("a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
