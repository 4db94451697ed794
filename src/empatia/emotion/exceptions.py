"""Errors of the emotion stage; each says what to do."""

from __future__ import annotations

from empatia.errors import ConfigError, EmpatiaError


class EmotionError(EmpatiaError):
    """Root of the emotion stage's errors."""

    code = "emotion"


class UnknownAnalyzerError(ConfigError):
    """An analyzer name that is not registered."""

    code = "unknown_analyzer"

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown emotion analyzer {name!r}; choose one of: {', '.join(sorted(known))}",
            name=name,
            known=sorted(known),
        )


class ModelNotFoundError(EmotionError):
    """Trained heads or a local model directory are missing."""

    code = "model_not_found"
    exit_code = 2


class TrainingDataError(EmotionError):
    """The labelled data for ``empatia train-emotion`` is missing or malformed."""

    code = "training_data"
    exit_code = 2
