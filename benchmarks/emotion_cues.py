"""Do the cue rules earn their place? Cue firing and precision per language, macro-F1 rules on/off.

    .venv/bin/python benchmarks/emotion_cues.py [--data ../shared/data/text] [--split test]
        [--encoder] [--json OUT.json] [--before BEFORE.json] [--out benchmarks/results/emotion_cues.md]

Reference labels (test splits only; ``--split train`` is for tuning the rules, never reported):

* UMSAB tweets (en/de/es/fr/it/pt/ar/hi): the gold 3-class sentiment. All of each language's
  test split for ``fast``; ``--encoder`` uses the sample of :mod:`empatia.emotion.corpus`
  (250 per language, the one ``benchmarks/emotion_quality.py`` embeds).
* XED subtitle lines (en/pl/ru/fa/de/es/fr) have emotions, not sentiment: anger, disgust,
  fear, sadness count as *negative* and joy, trust as *positive*; anticipation and surprise
  lines are left out (they lean either way). Macro-F1 there is over {negative, positive}: a
  ``neutral`` answer is a miss. ``fast`` on all polar test lines, ``--encoder`` on the polar
  lines of the corpus sample (≤300 per language).

A cue's *precision* is the share of the texts it fires on whose gold label is negative (an
effort or escalation cue, or a frustration/disappointment word, should fire on complaints).
``off`` is the model alone (argmax of its sentiment head on what the model reads); ``on`` is
``analyze()``, the shipped rules (cues, lexicon, and whatever else the analyzer composes).
The analyzers see no language hint: language detection is part of what is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from empatia.emotion import corpus
from empatia.emotion import datasets as ds
from empatia.emotion.analyzers.base import model_text
from empatia.emotion.cues import lexicon_emotions

HERE = Path(__file__).resolve().parent
NEG_XED = {"anger", "disgust", "fear", "sadness"}
POS_XED = {"joy", "trust"}


def polar(label: str) -> str | None:
    return "negative" if label in NEG_XED else "positive" if label in POS_XED else None


def macro(y: list[str], p: list[str], labels: list[str]) -> float:
    return float(f1_score(y, p, average="macro", labels=labels, zero_division=0))


def evaluate(analyzer, texts: list[str], y: list[str], labels: list[str]) -> dict:
    res = analyzer.analyze(texts, sentences=False)
    labs = analyzer.head_labels()["sentiment"]
    mt = [model_text(t, a.language) for t, a in zip(texts, res, strict=True)]
    off = list(np.array(labs)[analyzer.raw(mt)["sentiment"].argmax(1)]) if texts else []
    on = [a.sentiment for a in res]
    fires: dict[str, list[str]] = defaultdict(list)
    for a, t, g in zip(res, texts, y, strict=True):
        kinds = {c.cue for c in (*a.effort, *a.escalation)}
        lex = lexicon_emotions(t, a.language)
        kinds |= {f"lex:{k}" for k in ("frustration", "disappointment") if lex[k]}
        for k in kinds:
            fires[k].append(g)
    changed = [(o, n, g) for o, n, g in zip(off, on, y, strict=True) if o != n]
    return {
        "n": len(y),
        "off": macro(y, off, labels),
        "on": macro(y, on, labels),
        "changed": len(changed),
        "changed_right": sum(n == g for _, n, g in changed),
        "changed_wrong_from_right": sum(o == g for o, _, g in changed),
        "fires": {
            k: {"n": len(v), "neg": sum(g == "negative" for g in v)} for k, v in fires.items()
        },
    }


def sets(data: Path, split: str, sample: bool) -> list[tuple[str, list[str], list[str], list[str]]]:
    out = []
    if sample:
        c = corpus.load(data, split)
        um = {lang: [e for e in c.sentiment if e.lang == lang] for lang in ds.UMSAB_LANGS}
        xe = {lang: [e for e in c.xed if e.lang == lang] for lang in ds.XED_LANGS}
    else:
        um = {lang: ds.umsab(data, lang, split) for lang in ds.UMSAB_LANGS}
        xe = {lang: ds.xed(data, lang, split) for lang in ds.XED_LANGS}
    for lang, ex in um.items():
        out.append(
            (
                f"UMSAB {lang}",
                [e.text for e in ex],
                [e.label for e in ex],
                list(ds.SENTIMENT_LABELS),
            )
        )
    for lang, ex in xe.items():
        ex = [e for e in ex if polar(e.label)]
        out.append(
            (
                f"XED {lang}",
                [e.text for e in ex],
                [polar(e.label) for e in ex],
                ["negative", "positive"],
            )
        )
    return out


def run(analyzer, data: Path, split: str, sample: bool) -> dict:
    return {name: evaluate(analyzer, t, y, labs) for name, t, y, labs in sets(data, split, sample)}


def table(name: str, rows: dict, before: dict | None) -> list[str]:
    L = [f"### {name}: sentiment macro-F1, model alone (off) vs shipped rules (on)\n"]
    if before:
        L.append(
            "| set | n | off | on before | on after | rules before | rules after | flips (right / broke) |"
        )
        L.append("|---|---|---|---|---|---|---|---|")
    else:
        L.append("| set | n | off | on | rules | flips (right / broke) |")
        L.append("|---|---|---|---|---|---|")
    for k, r in rows.items():
        flips = f"{r['changed']} ({r['changed_right']} / {r['changed_wrong_from_right']})"
        if before and k in before:
            b = before[k]
            L.append(
                f"| {k} | {r['n']} | {r['off']:.3f} | {b['on']:.3f} | **{r['on']:.3f}** | "
                f"{b['on'] - b['off']:+.3f} | {r['on'] - r['off']:+.3f} | {flips} |"
            )
        else:
            L.append(
                f"| {k} | {r['n']} | {r['off']:.3f} | {r['on']:.3f} | {r['on'] - r['off']:+.3f} | {flips} |"
            )
    L.append("")
    return L


def cue_table(rows: dict, before: dict | None) -> list[str]:
    L = [
        "### Cue firing (fast's detected language) and precision = share of fires on negative gold\n"
    ]
    L.append("| set | cue | fires | precision | fires before | precision before |")
    L.append("|---|---|---|---|---|---|")
    for k, r in rows.items():
        b = (before or {}).get(k, {}).get("fires", {})
        for cue in sorted(set(r["fires"]) | set(b)):
            f = r["fires"].get(cue, {"n": 0, "neg": 0})
            fb = b.get(cue, {"n": 0, "neg": 0})
            p = f"{f['neg'] / f['n']:.2f}" if f["n"] else "–"
            pb = f"{fb['neg'] / fb['n']:.2f}" if fb["n"] else "–"
            L.append(
                f"| {k} | {cue} | {f['n']} | {p} | {fb['n'] if before else ''} | {pb if before else ''} |"
            )
    L.append("")
    return L


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ds.default_data_dir())
    ap.add_argument("--split", default="test", choices=["test", "train"])
    ap.add_argument("--encoder", action="store_true", help="also the encoder, on the corpus sample")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/empatia-emotion-cache"))
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--before", type=Path, help="figures of an earlier run to compare with")
    ap.add_argument("--out", type=Path, help="write the markdown report here")
    args = ap.parse_args()

    from empatia.emotion.analyzers.fast import FastAnalyzer

    res = {"fast": run(FastAnalyzer(), args.data, args.split, sample=False)}
    if args.encoder:
        from empatia.emotion.analyzers.encoder import Embedder, EncoderAnalyzer
        from empatia.emotion.embedcache import EmbeddingCache

        cache = EmbeddingCache(args.cache, Embedder())
        enc = EncoderAnalyzer(embedder=lambda texts: cache.get(texts))
        res["fast (sample)"] = run(FastAnalyzer(), args.data, args.split, sample=True)
        res["encoder (sample)"] = run(enc, args.data, args.split, sample=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    res["_meta"] = {
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "commit": commit,
        "split": args.split,
        "command": "benchmarks/emotion_cues.py " + " ".join(sys.argv[1:]),
    }
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    before = json.loads(args.before.read_text()) if args.before else {}
    L = ["# Emotion cue rules: precision and what they do to sentiment macro-F1\n"]
    m = res["_meta"]
    L.append(f"- date: {m['date']}; commit {m['commit']}; split: **{m['split']}**")
    L.append(f"- command: `.venv/bin/python {m['command']}`")
    if before:
        bm = before.get("_meta", {})
        L.append(f"- before: {bm.get('date')} commit {bm.get('commit')}")
    L.append(
        "- reference: UMSAB gold sentiment (3 classes); XED polar lines (anger/disgust/fear/"
        "sadness = negative, joy/trust = positive; macro-F1 over those two, neutral = miss)\n"
    )
    for name, rows in res.items():
        if name.startswith("_"):
            continue
        L += table(name, rows, before.get(name))
    L += cue_table(res["fast"], before.get("fast"))
    text = "\n".join(L)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
