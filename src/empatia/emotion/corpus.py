"""The training and test sets, sampled deterministically from the shared labelled data.

Two shared CPU cores embed ~20 tweets/s, so each source is capped (``caps``); the same seed
always draws the same lines, which keeps the embedding cache warm between runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from empatia.emotion import datasets as ds


@dataclass(frozen=True)
class Caps:
    umsab_train: int = 1000  # per language
    umsab_test: int = 250
    xed_train: int = 1200
    xed_test: int = 300
    goemo_train: int = 3000
    goemo_test: int = 800
    seed: int = 13


@dataclass
class Corpus:
    sentiment: list[ds.Example] = field(default_factory=list)
    xed: list[ds.Example] = field(default_factory=list)
    ekman: list[ds.Example] = field(default_factory=list)
    fine: list[tuple[str, frozenset[str]]] = field(default_factory=list)

    def texts(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in (*self.sentiment, *self.xed, *self.ekman):
            seen.setdefault(e.text)
        for t, _ in self.fine:
            seen.setdefault(t)
        return list(seen)


def _sample(items: list, n: int, seed: int) -> list:
    if len(items) <= n:
        return list(items)
    return random.Random(seed).sample(items, n)


def load(data: Path, split: str, caps: Caps = Caps()) -> Corpus:
    """The sampled corpus of one split (``train`` or ``test``)."""
    test = split == "test"
    c = Corpus()
    for lang in ds.UMSAB_LANGS:
        c.sentiment += _sample(
            ds.umsab(data, lang, split), caps.umsab_test if test else caps.umsab_train, caps.seed
        )
    for lang in ds.XED_LANGS:
        c.xed += _sample(
            ds.xed(data, lang, split), caps.xed_test if test else caps.xed_train, caps.seed
        )
    n = caps.goemo_test if test else caps.goemo_train
    ek = {e.text: e for e in ds.ekman(data, split)}
    fine = ds.goemotions_fine(data, split)
    fine = _sample(fine, n, caps.seed)
    c.fine = fine
    c.ekman = [ek[t] for t, _ in fine if t in ek]
    return c
