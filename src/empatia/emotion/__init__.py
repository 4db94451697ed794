"""How customers feel: language, sentiment, emotion, effort and themes from their own words (S4, S5).

Public API::

    from empatia.emotion import get_analyzer
    a = get_analyzer("encoder")            # or "fast", or "transformers" with model_dir=...
    [r] = a.analyze(["Dzwoniłem siedem razy i nikt nie odbiera!"])
    r.sentiment, r.score, r.emotions["frustration"], [c.as_dict() for c in r.effort]

The ``emotion`` pipeline stage (:mod:`empatia.emotion.stage`) writes ``text_analysis``,
``text_sentences``, ``touchpoint_emotion`` and ``person_emotion``; ``empatia emotion …`` and
``empatia train-emotion`` are the commands.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EMOTIONS",
    "SENTIMENTS",
    "Analysis",
    "Cue",
    "find_cues",
    "get_analyzer",
    "register_analyzer",
]


def __getattr__(name: str) -> Any:  # lazy: importing the package must not load models
    if name in ("EMOTIONS", "SENTIMENTS", "Analysis"):
        from empatia.emotion.analyzers import base

        return getattr(base, name)
    if name in ("Cue", "find_cues"):
        from empatia.emotion import cues

        return getattr(cues, name)
    if name in ("get_analyzer", "register_analyzer"):
        from empatia.emotion import registry

        return getattr(registry, name)
    raise AttributeError(name)
