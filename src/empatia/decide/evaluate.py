"""Offline evaluation of recommenders on a temporal split: precision, recall and NDCG at k.

Two settings, as issue #8 asks: **all items** (buying again counts) and **new items only**
(items the person had not bought before the split; their past items are excluded from the
list and from the truth).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from empatia.decide.recommenders import Interactions, topk_rows


@dataclass
class Split:
    """Train interactions and the truth (people × items bought after the split)."""

    train: Interactions
    truth_all: sp.csr_matrix
    truth_new: sp.csr_matrix
    users_all: np.ndarray  # people with something in the test period
    users_new: np.ndarray  # people with some new item in the test period

    @classmethod
    def temporal(cls, df: pd.DataFrame, split: str | pd.Timestamp,
                 end: str | pd.Timestamp | None = None) -> Split:
        """Train on rows before ``split``; test on rows from ``split`` (up to ``end``) by
        people and items already known in training."""
        ts = pd.to_datetime(df["ts"], utc=True)
        s = pd.Timestamp(split, tz="UTC")
        before = df[ts < s]
        after = df[(ts >= s) & ((ts < pd.Timestamp(end, tz="UTC")) if end is not None else True)]
        train = Interactions.from_frame(before, as_of=s)
        p = pd.Index(train.persons).get_indexer(after["person"].astype(str))
        i = pd.Index(train.items).get_indexer(after["item"].astype(str))
        keep = (p >= 0) & (i >= 0)
        truth = sp.csr_matrix((np.ones(keep.sum(), np.float32), (p[keep], i[keep])),
                              shape=(train.n_persons, train.n_items))
        truth.sum_duplicates()
        truth.data[:] = 1.0
        seen = train.seen()
        new = (truth - truth.multiply(seen)).tocsr()
        new.eliminate_zeros()
        return cls(train, truth, new, np.flatnonzero(truth.getnnz(axis=1)),
                   np.flatnonzero(new.getnnz(axis=1)))


def metrics_at_k(top: np.ndarray, truth: sp.csr_matrix, users: np.ndarray, k: int = 10) -> dict[str, float]:
    """Mean precision@k, recall@k, NDCG@k and hit rate@k (binary relevance) over ``users``."""
    t = truth[users]
    hits = np.zeros(top[:, :k].shape, dtype=bool)
    for r in range(len(users)):
        lo, hi = t.indptr[r], t.indptr[r + 1]
        if hi > lo:
            hits[r] = np.isin(top[r, :k], t.indices[lo:hi])
    n_rel = np.diff(t.indptr)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * disc).sum(1)
    idcg = np.array([disc[: min(n, k)].sum() for n in n_rel])
    return {
        "precision": float(hits.sum(1).mean() / k),
        "recall": float((hits.sum(1) / np.maximum(n_rel, 1)).mean()),
        "ndcg": float((dcg / np.maximum(idcg, 1e-12)).mean()),
        "hit": float(hits.any(1).mean()),
    }


def evaluate(model: Any, split: Split, k: int = 10) -> dict[str, dict[str, float]]:
    """Both settings for a fitted model (``model.top_k(users, k, exclude_seen=…)``)."""
    return {
        "all": metrics_at_k(model.top_k(split.users_all, k), split.truth_all, split.users_all, k),
        "new": metrics_at_k(model.top_k(split.users_new, k, exclude_seen=True), split.truth_new,
                            split.users_new, k),
    }


def tune_blend(blocks: dict[str, np.ndarray], truth: sp.csr_matrix, users: np.ndarray,
               grid: dict[str, Iterable[float]], seen: sp.csr_matrix | None = None,
               k: int = 10) -> tuple[dict[str, float], float]:
    """The weights (one per block; blocks are ``len(users) × items``) with the best NDCG@k."""
    names = list(grid)
    mask = None
    if seen is not None:
        rows = seen[users]
        mask = rows.nonzero()
    best: tuple[float, dict[str, float]] = (-1.0, {})
    for combo in product(*(list(grid[n]) for n in names)):
        if not any(combo):
            continue
        s = sum(w * blocks[n] for n, w in zip(names, combo, strict=True) if w)
        assert isinstance(s, np.ndarray)
        s = s.astype(np.float32, copy=True)
        if mask is not None:
            s[mask] = -np.inf
        score = metrics_at_k(topk_rows(s, k), truth, users, k)["ndcg"]
        if score > best[0]:
            best = (score, dict(zip(names, combo, strict=True)))
    return best[1], best[0]
