"""What every analyzer returns, and the part they share.

An analyzer turns texts into *raw head probabilities* (``sentiment``: negative/neutral/
positive; ``xed``: Plutchik's 8; ``ekman``: Ekman's 6 + neutral; ``fine``: independent
GoEmotions-style labels; or ``emotions``: the nine emotions directly). :class:`BaseAnalyzer`
does the rest the same way for all of them: language per text and per sentence, the nine
emotion intensities (model probabilities, raised by cue words for frustration and
disappointment, which the training data barely has), effort and escalation cues with their
numbers, and a confidence.

Sentence rules on top of the model (all analyzers, :attr:`BaseAnalyzer.rules`): the clause
after a contrast marker sets the verdict when the model reads it confidently ("fast delivery,
**but** the shoes fell apart"); negated negatives ("not slow at all", "никаких проблем") move
the reading away from negative and are no cues; advice against / strong recommendations
("zdecydowanie odradzam", "highly recommend") set the verdict; cue words the model missed turn
a neutral reading negative, for the cue kinds in :data:`SCORE_CUES` (measured precise; see
``benchmarks/emotion_cues.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from empatia.emotion.cues import (
    Cue,
    contrast_clause,
    find_cues,
    lexicon_emotions,
    negated_negatives,
    split_sentences,
    verdict,
)
from empatia.emotion.langid import detector

#: Persian written with Arabic code points (ي ى ك, common in copied and machine-made text),
#: the kashida and the zero-width non-joiner read by the models as Persian's own letters and a
#: space: on XED's Persian test lines `fast` goes from 0.196 to 0.238 macro-F1. Arabic text
#: keeps its letters (ي is right there).
_PERSIAN = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ـ": None, "\u200c": " "})


def model_text(text: str, lang: str | None) -> str:
    """What the model reads for a text in ``lang`` (cue rules read the text itself)."""
    return text.translate(_PERSIAN) if lang == "fa" else text


#: When a contrast clause is read this confidently (top class negative or positive) ...
CLAUSE_CONFIDENT = 0.5
#: ... it weighs this much in the sentence's reading (the whole sentence the rest).
CLAUSE_WEIGHT = 0.6
#: Share of the negative reading a negated negative moves to neutral and positive (half each).
NEGATED_SHIFT = 0.75
#: A verdict phrase puts at least this much on its side.
VERDICT_FLOOR = 0.7
#: Cue kinds (and lexicon emotions, ``lex:``) that turn a neutral reading negative. Waiting,
#: repeated contact, public and legal are left out: on UMSAB's train tweets a neutral reading
#: they would turn negative was neutral 20/35/4 times and negative 8/5/3 times ("trending for 8
#: hours", "2 tickets", "on Twitter", news of lawsuits). They are still reported, and still
#: raise frustration and anger.
SCORE_CUES = frozenset(
    {"transfer", "no_answer", "bounced", "leave", "lex:frustration", "lex:disappointment"}
)

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
    #: the sentence rules and cue rules on the sentiment (off: the model's reading alone)
    rules = True

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
        clauses: dict[int, tuple[str, int]] = {}  # unit → (the clause that decides, its unit)
        if self.rules:
            for j in range(len(units)):
                c = contrast_clause(units[j], unit_langs[j])
                if c:
                    clauses[j] = (c, len(units))
                    units.append(c)
                    unit_langs.append(unit_langs[j])
        raw = (
            self.raw([model_text(u, g) for u, g in zip(units, unit_langs, strict=True)])
            if units
            else {}
        )
        out = []
        for i, t in enumerate(texts):
            out.append(self._compose(t, i, raw, langs[i].lang, langs[i].confidence, clauses.get(i)))
        for i, idx in owners:
            for j in idx:
                d = det.detect(units[j], langs[i].lang)
                lang = d.lang if d.confidence >= 0.6 else langs[i].lang
                out[i].sentences.append(
                    self._compose(units[j], j, raw, lang, d.confidence, clauses.get(j))
                )
        return out

    def _sentiment(self, i: int, raw: Raw) -> tuple[float, float, float]:
        if "sentiment" not in raw:
            return 0.0, 1.0, 0.0
        p = raw["sentiment"][i]
        labels = self.head_labels()["sentiment"]
        pn, pu, pp = (float(p[labels.index(s)]) for s in SENTIMENTS)
        return pn, pu, pp

    def _rules(
        self,
        text: str,
        lang: str | None,
        p: tuple[float, float, float],
        raw: Raw,
        clause: tuple[str, int] | None,
    ) -> tuple[float, float, float]:
        """The sentence rules on the model's (negative, neutral, positive) reading."""
        pn, pu, pp = p
        decides = text
        if clause is not None and "sentiment" in raw:
            cn, cu, cp = self._sentiment(clause[1], raw)
            if max(cn, cp) >= max(cu, CLAUSE_CONFIDENT):
                w = CLAUSE_WEIGHT
                pn, pu, pp = (1 - w) * pn + w * cn, (1 - w) * pu + w * cu, (1 - w) * pp + w * cp
                decides = clause[0]
        if pn > 0 and negated_negatives(decides, lang):
            moved = pn * NEGATED_SHIFT
            pn, pu, pp = pn - moved, pu + moved / 2, pp + moved / 2
        v = verdict(text, lang)
        if v < 0 and pn < VERDICT_FLOOR:
            rest = max(pu + pp, 1e-9)
            pn, pu, pp = VERDICT_FLOOR, pu / rest * 0.3, pp / rest * 0.3
        elif v > 0 and pp < VERDICT_FLOOR:
            rest = max(pu + pn, 1e-9)
            pn, pu, pp = pn / rest * 0.3, pu / rest * 0.3, VERDICT_FLOOR
        return pn, pu, pp

    def _compose(
        self,
        text: str,
        i: int,
        raw: Raw,
        lang: str | None,
        lang_conf: float,
        clause: tuple[str, int] | None = None,
    ) -> Analysis:
        pn, pu, pp = self._sentiment(i, raw)
        if self.rules:
            pn, pu, pp = self._rules(text, lang, (pn, pu, pp), raw, clause)
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
        scoring = {c.cue for c in cues} | {f"lex:{e}" for e, n in lex.items() if n}
        if self.rules and scoring & SCORE_CUES and sentiment == "neutral":
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
