"""A disk cache of sentence embeddings keyed by the md5 of the text.

Training and benchmarking embed tens of thousands of texts; at ~20–80 texts/s on two shared
cores that is worth doing once. The cache is a folder of ``.npz`` chunks (``keys``, ``vecs``)
written as embedding goes, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def text_key(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Embeddings of texts, computed by ``embed`` once and kept under ``folder``."""

    def __init__(self, folder: Path, embed: Callable[[list[str]], np.ndarray], chunk: int = 256):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._embed = embed
        self.chunk = chunk
        self._vecs: dict[str, np.ndarray] = {}
        for f in sorted(self.folder.glob("chunk-*.npz")):
            with np.load(f) as z:
                for k, v in zip(z["keys"], z["vecs"], strict=True):
                    self._vecs[str(k)] = v
        self._n_files = len(list(self.folder.glob("chunk-*.npz")))

    def __len__(self) -> int:
        return len(self._vecs)

    def get(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._vecs and k not in missing:
                missing[k] = t
        todo = list(missing.items())
        for i in range(0, len(todo), self.chunk):
            part = todo[i : i + self.chunk]
            vecs = np.asarray(self._embed([t for _, t in part]), dtype=np.float32)
            for (k, _), v in zip(part, vecs, strict=True):
                self._vecs[k] = v
            np.savez(
                self.folder / f"chunk-{self._n_files:05d}.npz",
                keys=np.array([k for k, _ in part]),
                vecs=vecs,
            )
            self._n_files += 1
            if progress:
                progress(len(part))
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vecs[k] for k in keys])
