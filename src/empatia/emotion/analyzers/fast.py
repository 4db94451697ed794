"""The ``fast`` analyzer for bulk backfills: hashed character n-grams and one linear layer.

Distilled from the encoder: trained to reproduce the encoder heads' logits on multilingual
text (``empatia train-emotion``), so it speaks the same heads and is composed the same way,
at thousands of texts per second per core, with no embedding model loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from empatia.emotion.analyzers.base import BaseAnalyzer, Raw
from empatia.emotion.exceptions import ModelNotFoundError
from empatia.emotion.heads import activate

DEFAULT_MODEL = "fast_model.npz"


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
                f"fast model not found at {path}; run `empatia train-emotion` or reinstall Empatia"
            )
        with np.load(path) as z:
            self.W = z["W"].astype(np.float32)
            self.b = z["b"].astype(np.float32)
            self.version = str(z["version"])
            names = [str(x) for x in z["heads"]]
            self._heads = {
                n: ([str(x) for x in z[f"labels/{n}"]], str(z[f"kind/{n}"]), tuple(z[f"slice/{n}"]))
                for n in names
            }
            n_features, ngram_max = (int(x) for x in z["vectorizer"])
        self.vectorizer = make_vectorizer(n_features, ngram_max)

    def head_labels(self) -> dict[str, tuple[str, ...]]:
        return {n: tuple(v[0]) for n, v in self._heads.items()}

    def raw(self, texts: Sequence[str]) -> Raw:
        X = self.vectorizer.transform(list(texts))
        Z = np.asarray(X @ self.W) + self.b
        return {n: activate(Z[:, a:b], kind) for n, (_, kind, (a, b)) in self._heads.items()}
