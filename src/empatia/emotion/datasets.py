"""Readers for the labelled text the heads are trained and benchmarked on.

The data lives outside the project (``../shared/data/text`` or a path given by flag) and is
never copied into it: XED (subtitles, 8 Plutchik emotions, English + projections), GoEmotions
(English Reddit, Ekman 6 + neutral and 27 fine labels) and UMSAB/XLM-T (tweets, 3-class
sentiment in 8 languages). UMSAB and GoEmotions come with train/test splits; XED does not, so
a line goes to ``test`` when the md5 of its text falls in the last fifth (stable across runs).

>>> _xed_split("Co się stało?") in {"train", "test"}
True
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from empatia.emotion.exceptions import TrainingDataError

#: XED's label numbers (1..8) in its own alphabetical order.
XED_LABELS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")
EKMAN_LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
UMSAB_LANGS = {
    "en": "english",
    "de": "german",
    "es": "spanish",
    "fr": "french",
    "it": "italian",
    "pt": "portuguese",
    "ar": "arabic",
    "hi": "hindi",
}
XED_LANGS = ("en", "pl", "ru", "fa", "de", "es", "fr")
#: GoEmotions fine labels kept for the emotions XED lacks (English only).
GOEMO_KEEP = {
    "annoyance": "frustration",
    "disappointment": "disappointment",
    "gratitude": "gratitude",
    "nervousness": "fear",
    "anger": "anger",
    "sadness": "sadness",
    "joy": "joy",
    "surprise": "surprise",
    "fear": "fear",
}


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str
    source: str  # umsab | xed | ekman | goemo


def default_data_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "data" / "text"
        if cand.is_dir():
            return cand
    return Path("../shared/data/text")


def _check(path: Path) -> Path:
    if not path.exists():
        raise TrainingDataError(
            f"labelled data not found at {path}; pass --data pointing at the folder holding "
            "xed/, goemotions/ and umsab_xlm-t/"
        )
    return path


def _xed_split(text: str) -> str:
    h = int(hashlib.md5(text.strip().lower().encode()).hexdigest()[:8], 16)
    return "test" if h % 5 == 0 else "train"


def umsab(data: Path, lang: str, split: str) -> list[Example]:
    folder = _check(data / "umsab_xlm-t" / "data" / "sentiment" / UMSAB_LANGS[lang])
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").splitlines()
    return [
        Example(t, SENTIMENT_LABELS[int(y)], lang, "umsab")
        for t, y in zip(texts, labels, strict=True)
        if t.strip()
    ]


def xed(data: Path, lang: str, split: str) -> list[Example]:
    """Single-label XED lines of one language (multi-label lines are left out)."""
    base = _check(data / "xed")
    path = base / (
        "AnnotatedData/en-annotated.tsv" if lang == "en" else f"Projections/{lang}-projections.tsv"
    )
    out = []
    seen: set[str] = set()
    with _check(path).open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 2:
                continue
            text, labels = row[0].strip(), [s.strip() for s in row[1].split(",") if s.strip()]
            if len(labels) != 1 or not labels[0].isdigit() or len(text) < 3 or text in seen:
                continue
            k = int(labels[0])
            if not 1 <= k <= 8 or _xed_split(text) != split:
                continue
            seen.add(text)
            out.append(Example(text, XED_LABELS[k - 1], lang, "xed"))
    return out


def ekman(data: Path, split: str) -> list[Example]:
    """Single-label GoEmotions comments grouped into Ekman's 6 emotions + neutral."""
    folder = _check(data / "goemotions" / "data" / "ekman")
    out = []
    with (folder / f"{split}.tsv").open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 2 and "," not in row[1]:
                out.append(Example(row[0], EKMAN_LABELS[int(row[1])], "en", "ekman"))
    return out


def goemotions_fine(data: Path, split: str) -> list[tuple[str, frozenset[str]]]:
    """GoEmotions comments with their fine labels mapped by :data:`GOEMO_KEEP` (may be empty)."""
    folder = _check(data / "goemotions" / "data" / "original")
    names = (folder / "labels.txt").read_text(encoding="utf-8").split()
    out = []
    with (folder / f"{split}.tsv").open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 2:
                labs = {
                    GOEMO_KEEP[names[int(i)]]
                    for i in row[1].split(",")
                    if names[int(i)] in GOEMO_KEEP
                }
                out.append((row[0], frozenset(labs)))
    return out
