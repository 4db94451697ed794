"""Bring your own model: any Hugging Face sequence-classification model from a local folder.

Nothing is downloaded (``local_files_only``); a GPU is used when torch sees one. The model's
labels (``config.id2label``) decide what it provides: negative/neutral/positive (or three
``LABEL_n``, read in that order) become the sentiment; emotion names (``anger``, ``joy``,
``annoyance`` → frustration, ``nervousness`` → fear, …) become the nine emotions, as
independent probabilities when the model is multi-label. Cues and language detection are the
same as for the other analyzers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from empatia.emotion.analyzers.base import EMOTIONS, SENTIMENTS, BaseAnalyzer, Raw
from empatia.emotion.exceptions import ModelNotFoundError
from empatia.errors import MissingExtraError

SENTIMENT_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
}
EMOTION_ALIASES = {e: e for e in EMOTIONS} | {
    "annoyance": "frustration",
    "nervousness": "fear",
    "worry": "fear",
    "grief": "sadness",
    "happiness": "joy",
    "amusement": "joy",
    "excitement": "joy",
    "disgust": "anger",
    "thankfulness": "gratitude",
    "disappointed": "disappointment",
}


class TransformersAnalyzer(BaseAnalyzer):
    name = "transformers"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        languages: tuple[str, ...] = ("en", "pl", "ru", "fa", "de", "es", "fr"),
        batch: int = 32,
        max_length: int = 256,
        device: str | None = None,
    ) -> None:
        super().__init__(languages)
        if not model_dir or not (Path(model_dir) / "config.json").exists():
            raise ModelNotFoundError(
                f"no Hugging Face model at {model_dir!r}; pass the folder holding config.json "
                "and the weights (empatia emotion use transformers --model-dir DIR)"
            )
        try:
            import torch
            from transformers import AutoConfig
        except ImportError as e:
            raise MissingExtraError("transformers and torch", "transformers") from e
        self._torch = torch
        self.path = str(model_dir)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch, self.max_length = batch, max_length
        # the labels from the config alone: the weights load with the first text analysed
        # (:attr:`_loaded`), so a process that only needs the key (a Spark driver) never holds them
        cfg = AutoConfig.from_pretrained(self.path, local_files_only=True)
        self.num_labels = int(cfg.num_labels)
        labels = [str(cfg.id2label[i]).lower() for i in range(self.num_labels)]
        self.multi_label = cfg.problem_type == "multi_label_classification"
        self._sent_idx: dict[str, int] = {}
        self._emo_idx: dict[str, list[int]] = {}
        for i, lab in enumerate(labels):
            if lab in SENTIMENT_ALIASES:
                self._sent_idx[SENTIMENT_ALIASES[lab]] = i
            elif lab in EMOTION_ALIASES:
                self._emo_idx.setdefault(EMOTION_ALIASES[lab], []).append(i)
        if not self._sent_idx and not self._emo_idx and len(labels) == 3:
            self._sent_idx = {s: i for i, s in enumerate(SENTIMENTS)}  # LABEL_0..2
        digest = hashlib.md5((Path(model_dir) / "config.json").read_bytes()).hexdigest()[:8]
        self.version = f"{Path(model_dir).name}-{digest}"

    @cached_property
    def _loaded(self) -> tuple[Any, Any]:
        """The tokenizer and the model, on :attr:`device`."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(self.path, local_files_only=True)
        return tokenizer, model.to(self.device).eval()

    def head_labels(self) -> dict[str, tuple[str, ...]]:
        return {"sentiment": SENTIMENTS, "emotions": EMOTIONS}

    def _probs(self, texts: Sequence[str]) -> np.ndarray:
        torch, (tokenizer, model) = self._torch, self._loaded
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch):
                enc: Any = tokenizer(
                    list(texts[i : i + self.batch]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                logits = model(**enc).logits.float()
                p = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
                out.append(p.cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.num_labels))

    def raw(self, texts: Sequence[str]) -> Raw:
        P = self._probs(texts)
        raw: Raw = {}
        if self._sent_idx:
            S = np.zeros((len(P), 3), dtype=np.float32)
            for k, s in enumerate(SENTIMENTS):
                if s in self._sent_idx:
                    S[:, k] = P[:, self._sent_idx[s]]
            S /= np.maximum(S.sum(axis=1, keepdims=True), 1e-9)
            raw["sentiment"] = S
        if self._emo_idx:
            E = np.zeros((len(P), len(EMOTIONS)), dtype=np.float32)
            for k, e in enumerate(EMOTIONS):
                if e in self._emo_idx:
                    E[:, k] = P[:, self._emo_idx[e]].max(axis=1)
            raw["emotions"] = E
        return raw
