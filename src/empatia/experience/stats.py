"""Scores with confidence intervals: NPS, CSAT, CES. Pure functions over counts or scores.

>>> s = nps([10, 10, 9, 8, 7, 6, 0])
>>> round(s.score, 1), s.n, s.ci_low <= s.score <= s.ci_high
(14.3, 7, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats as _st

SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True)
class Score:
    """A score (NPS in −100..100; CSAT/CES as % satisfied/easy) with its interval and mean."""

    survey: str
    score: float
    ci_low: float
    ci_high: float
    n: int
    mean: float | None = None
    detail: dict[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _z(confidence: float) -> float:
    return float(_st.norm.ppf(0.5 + confidence / 2))


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k/n``; always contains ``k/n``.

    >>> lo, hi = wilson(8, 10); round(lo, 3), round(hi, 3)
    (0.49, 0.943)
    """
    if n <= 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))


def nps_from_counts(promoters: int, passives: int, detractors: int,
                    confidence: float = 0.95) -> Score:  # fmt: skip
    """NPS = % promoters (9–10) − % detractors (0–6), with a normal interval whose variance
    is estimated with one pseudo-answer of each kind (so 5 promoters out of 5 is not ±0)."""
    n = promoters + passives + detractors
    if n == 0:
        return Score("nps", float("nan"), -100.0, 100.0, 0)
    pp, pd_ = promoters / n, detractors / n
    point = 100 * (pp - pd_)
    tp, td = (promoters + 1) / (n + 3), (detractors + 1) / (n + 3)
    var = tp + td - (tp - td) ** 2
    half = 100 * _z(confidence) * math.sqrt(var / n)
    return Score("nps", point, max(-100.0, point - half), min(100.0, point + half), n,
                 detail={"promoters": pp, "passives": passives / n, "detractors": pd_})  # fmt: skip


def nps(scores: Sequence[float], confidence: float = 0.95) -> Score:
    p = sum(1 for s in scores if s >= 9)
    d = sum(1 for s in scores if s <= 6)
    out = nps_from_counts(p, len(scores) - p - d, d, confidence)
    mean = sum(scores) / len(scores) if scores else None
    return Score(out.survey, out.score, out.ci_low, out.ci_high, out.n, mean, out.detail)


def share_score(survey: str, scores: Sequence[float], good_from: float,
                confidence: float = 0.95) -> Score:  # fmt: skip
    """% of answers at or above ``good_from`` (Wilson interval), and the mean."""
    n = len(scores)
    k = sum(1 for s in scores if s >= good_from)
    lo, hi = wilson(k, n, confidence)
    return Score(survey, 100 * k / n if n else float("nan"), 100 * lo, 100 * hi, n,
                 sum(scores) / n if n else None, {"good_from": good_from})  # fmt: skip


#: What counts as satisfied / easy: CSAT 4–5, CES 5–7 (7 = very easy), NPS promoters 9–10.
GOOD_FROM: dict[str, float] = {"csat": 4, "ces": 5, "nps": 9}


def score(survey: str, scores: Sequence[float], confidence: float = 0.95) -> Score:
    """The headline score of one survey type."""
    if survey == "nps":
        return nps(scores, confidence)
    if survey in ("csat", "ces"):
        return share_score(survey, scores, GOOD_FROM[survey], confidence)
    raise ValueError(f"unknown survey {survey!r}; use nps, csat or ces")
