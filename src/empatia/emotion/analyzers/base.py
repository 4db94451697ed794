"""What every analyzer returns, and the part they share.

An analyzer turns texts into *raw head probabilities* (``sentiment``: negative/neutral/
positive; ``xed``: Plutchik's 8; ``ekman``: Ekman's 6 + neutral; ``fine``: independent
GoEmotions-style labels; or ``emotions``: the nine emotions directly). :class:`BaseAnalyzer`
does the rest the same way for all of them: language per text and per sentence, the nine
emotion intensities (model probabilities, raised by cue words for frustration and
disappointment, which the training data barely has), effort and escalation cues with their
numbers, and a confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from empatia.emotion.cues import Cue, find_cues, lexicon_emotions, split_sentences
from empatia.emotion.langid import detector

#: Persian written with Arabic code points (ي ى ك, common in copied and machine-made text),
#: the kashida and the zero-width non-joiner read by the models as Persian's own letters and a
#: space: on XED's Persian test lines `fast` goes from 0.196 to 0.238 macro-F1. Arabic text
#: keeps its letters (ي is right there).
_PERSIAN = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ـ": None, "\u200c": " "})


def model_text(text: str, lang: str | None) -> str:
    """What the model reads for a text in ``lang`` (cue rules read the text itself)."""
    return text.translate(_PERSIAN) if lang == "fa" else text

EMOTIONS = (
    "anger",
    "frustration",
    "disappointment",
    "sadness",
    "fear",
    "joy",
    "gratitude",
    "trust",
    "surprise",
)
SENTIMENTS = ("negative", "neutral", "positive")
#: How each raw head's labels feed the nine emotions (label → emotion, weight).
HEAD_MAP: dict[str, dict[str, tuple[str, float]]] = {
    "xed": {
        "anger": ("anger", 1.0),
        "disgust": ("anger", 0.6),
        "fear": ("fear", 1.0),
        "joy": ("joy", 1.0),
        "sadness": ("sadness", 1.0),
        "surprise": ("surprise", 1.0),
        "trust": ("trust", 1.0),
        "anticipation": ("trust", 0.3),
    },
    "ekman": {
        "anger": ("anger", 1.0),
        "disgust": ("anger", 0.6),
        "fear": ("fear", 1.0),
        "joy": ("joy", 1.0),
        "sadness": ("sadness", 1.0),
        "surprise": ("surprise", 1.0),
    },
    "fine": {e: (e, 1.0) for e in EMOTIONS},
    "emotions": {e: (e, 1.0) for e in EMOTIONS},
}


@dataclass
class Analysis:
    """The analysis of one text (or one sentence of it, in :attr:`sentences`)."""

    language: str | None
    sentiment: str
    score: float  # p(positive) - p(negative), in [-1, 1]
    emotions: dict[str, float]
    effort: list[Cue] = field(default_factory=list)
    escalation: list[Cue] = field(default_factory=list)
    confidence: float = 0.0
    sentences: list[Analysis] = field(default_factory=list)

    @property
    def dominant_emotion(self) -> str | None:
        if not self.emotions:
            return None
        emo, v = max(self.emotions.items(), key=lambda kv: kv[1])
        return emo if v >= 0.3 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "sentiment": self.sentiment,
            "score": round(self.score, 4),
            "emotions": {k: round(v, 4) for k, v in self.emotions.items()},
            "dominant_emotion": self.dominant_emotion,
            "effort": [c.as_dict() for c in self.effort],
            "escalation": [c.as_dict() for c in self.escalation],
            "confidence": round(self.confidence, 4),
            "sentences": [s.as_dict() for s in self.sentences],
        }


Raw = dict[str, np.ndarray]  # head name → (n, k) probabilities


class BaseAnalyzer:
    """Subclasses set ``name``/``version`` and implement :meth:`raw` (and :meth:`head_labels`)."""

    name = "base"
    version = "0"

    def __init__(self, languages: tuple[str, ...] = ("en", "pl", "ru", "fa", "de", "es", "fr")):
        self.languages = tuple(languages)

    @property
    def key(self) -> str:
        """What the cache is keyed on: analyzer name and version."""
        return f"{self.name}:{self.version}"

    def head_labels(self) -> dict[str, tuple[str, ...]]:
        raise NotImplementedError

    def raw(self, texts: Sequence[str]) -> Raw:
        """Raw head probabilities for each text."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------
    def analyze(
        self,
        texts: Sequence[str],
        hints: Sequence[str | None] | None = None,
        sentences: bool = True,
    ) -> list[Analysis]:
        """Analyse texts; with ``sentences`` also each sentence of texts that have several."""
        det = detector(self.languages)
        hints = list(hints) if hints is not None else [None] * len(texts)
        langs = det.detect_many(list(texts), hints)
        units: list[str] = list(texts)
        unit_langs = [d.lang for d in langs]
        owners: list[tuple[int, list[int]]] = []
        if sentences:
            for i, t in enumerate(texts):
                parts = split_sentences(t)
                if len(parts) > 1:
                    owners.append((i, list(range(len(units), len(units) + len(parts)))))
                    units.extend(parts)
                    unit_langs.extend([langs[i].lang] * len(parts))
        raw = self.raw([model_text(u, g) for u, g in zip(units, unit_langs, strict=True)]) if units else {}
        out = []
        for i, t in enumerate(texts):
            out.append(self._compose(t, i, raw, langs[i].lang, langs[i].confidence))
        for i, idx in owners:
            for j in idx:
                d = det.detect(units[j], langs[i].lang)
                lang = d.lang if d.confidence >= 0.6 else langs[i].lang
                out[i].sentences.append(self._compose(units[j], j, raw, lang, d.confidence))
        return out

    def _compose(self, text: str, i: int, raw: Raw, lang: str | None, lang_conf: float) -> Analysis:
        if "sentiment" in raw:
            p = raw["sentiment"][i]
            labels = self.head_labels()["sentiment"]
            pn, pu, pp = (float(p[labels.index(s)]) for s in SENTIMENTS)
        else:
            pn, pu, pp = 0.0, 1.0, 0.0
        probs = {"negative": pn, "neutral": pu, "positive": pp}
        sentiment = max(probs, key=probs.__getitem__)
        emotions = self._emotions(i, raw)
        cues = find_cues(text, lang)
        effort = [c for c in cues if c.category == "effort"]
        escalation = [c for c in cues if c.category == "escalation"]
        lex = lexicon_emotions(text, lang)
        for emo, n in lex.items():
            if n:
                emotions[emo] = max(emotions[emo], min(1.0, 0.45 + 0.2 * n))
        if effort and pp < 0.5:
            emotions["frustration"] = max(
                emotions["frustration"], min(0.9, 0.35 + 0.15 * len(effort))
            )
        if escalation and pp < 0.5:
            emotions["anger"] = max(emotions["anger"], 0.5)
        if (
            effort or escalation or lex["frustration"] or lex["disappointment"]
        ) and sentiment == "neutral":
            # cue words the model missed: an effort complaint is not neutral
            sentiment = "negative"
            pn = max(pn, 0.5)
        score = max(-1.0, min(1.0, pp - pn))
        confidence = max(probs.values()) * (0.5 + 0.5 * min(1.0, lang_conf))
        return Analysis(lang, sentiment, score, emotions, effort, escalation, confidence)

    def _emotions(self, i: int, raw: Raw) -> dict[str, float]:
        sums = dict.fromkeys(EMOTIONS, 0.0)
        counts = dict.fromkeys(EMOTIONS, 0)
        labels = self.head_labels()
        for head, mapping in HEAD_MAP.items():
            if head not in raw:
                continue
            p = raw[head][i]
            got: dict[str, float] = {}
            for k, lab in enumerate(labels[head]):
                if lab in mapping:
                    emo, w = mapping[lab]
                    got[emo] = got.get(emo, 0.0) + w * float(p[k])
            for emo, v in got.items():
                sums[emo] += min(1.0, v)
                counts[emo] += 1
        return {e: (sums[e] / counts[e] if counts[e] else 0.0) for e in EMOTIONS}
