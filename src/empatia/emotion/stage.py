"""The ``emotion`` stage of ``empatia run``: language, sentiment, emotions, effort, themes."""

from __future__ import annotations

from typing import Any

from empatia.emotion.incremental import run_emotion
from empatia.pipeline import RunContext, register_stage


class EmotionStage:
    """Analyses new text touchpoints (cached by text and analyzer version); rebuilds aggregates.

    Writes ``text_analysis``, ``text_sentences``, ``touchpoint_emotion`` and, when identity's
    ``event_persons`` exists, ``person_emotion``.
    """

    name = "emotion"
    after: tuple[str, ...] = ("identity", "privacy")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        ws = ctx.workspace
        return run_emotion(
            ws.store.con, tuple(ws.settings.languages), ctx.stages.emotion, ctx.progress,
            full=ctx.full,
        )


STAGE = register_stage(EmotionStage())
