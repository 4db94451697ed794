"""Small classification heads over embeddings, stored as one ``.npz`` and run with numpy.

A head is a tiny MLP (or a single linear layer): ``{name}/W0``, ``{name}/b0``, … with ReLU
between layers, ``{name}/labels`` and ``{name}/kind`` (``softmax`` for one label among many,
``sigmoid`` for independent labels). No scikit-learn or torch is needed to run them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from empatia.emotion.exceptions import ModelNotFoundError


@dataclass
class Head:
    name: str
    labels: tuple[str, ...]
    kind: str  # softmax | sigmoid
    weights: list[tuple[np.ndarray, np.ndarray]]

    def logits(self, X: np.ndarray) -> np.ndarray:
        h = X.astype(np.float32, copy=False)
        for i, (W, b) in enumerate(self.weights):
            h = h @ W.astype(np.float32) + b.astype(np.float32)
            if i < len(self.weights) - 1:
                np.maximum(h, 0, out=h)
        return h

    def probs(self, X: np.ndarray) -> np.ndarray:
        return activate(self.logits(X), self.kind)


def activate(z: np.ndarray, kind: str) -> np.ndarray:
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def save_heads(path: Path, heads: list[Head], meta: dict[str, str]) -> None:
    arrays: dict[str, np.ndarray] = {f"meta/{k}": np.array(v) for k, v in meta.items()}
    for h in heads:
        arrays[f"{h.name}/labels"] = np.array(h.labels)
        arrays[f"{h.name}/kind"] = np.array(h.kind)
        for i, (W, b) in enumerate(h.weights):
            arrays[f"{h.name}/W{i}"] = W.astype(np.float16)
            arrays[f"{h.name}/b{i}"] = b.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # cast: numpy's stub reads a ** dict as possibly holding its `allow_pickle: bool`
    np.savez_compressed(path, **cast("dict[str, Any]", arrays))


def load_heads(path: Path) -> tuple[dict[str, Head], dict[str, str]]:
    if not Path(path).exists():
        raise ModelNotFoundError(
            f"trained heads not found at {path}; run `empatia train-emotion` to train them "
            "or reinstall Empatia (they ship in the package)",
            path=str(path),
        )
    heads: dict[str, Head] = {}
    meta: dict[str, str] = {}
    with np.load(path) as z:
        names = sorted({k.split("/")[0] for k in z.files if not k.startswith("meta/")})
        meta = {k.split("/", 1)[1]: str(z[k]) for k in z.files if k.startswith("meta/")}
        for n in names:
            weights = []
            i = 0
            while f"{n}/W{i}" in z.files:
                weights.append((z[f"{n}/W{i}"].astype(np.float32), z[f"{n}/b{i}"]))
                i += 1
            heads[n] = Head(
                n, tuple(str(x) for x in z[f"{n}/labels"]), str(z[f"{n}/kind"]), weights
            )
    return heads, meta
