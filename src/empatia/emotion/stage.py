"""The ``emotion`` stage of ``empatia run``: language, sentiment, emotions, effort, themes."""

from __future__ import annotations

from typing import Any

from empatia.emotion.incremental import SCANNED, run_emotion
from empatia.pipeline import RunContext
from empatia.store import state
from empatia.store.engine import engine_for


class EmotionStage:
    """Analyses new text touchpoints (cached by text and analyzer version); rebuilds aggregates.

    Writes ``text_analysis``, ``text_sentences``, ``touchpoint_emotion`` and ``person_emotion``
    (each person's texts, through identity's ``event_persons``). The analyzer runs as the
    engine's Python model steps (:meth:`~empatia.store.engine.Engine.map_batches`).
    """

    name = "emotion"
    reads = ("events", "event_persons")
    writes = ("text_analysis", "text_sentences", "text_cache", "touchpoint_emotion", "person_emotion",
              "theme_clusters", "emotion_config")

    def fingerprint(self, ctx: RunContext) -> str:
        """The workspace's own choices in ``emotion_config`` (its progress kept there aside)."""
        own = state.items(ctx.store.con, "emotion_config")
        return repr([(k, v) for k, v in own.items() if k != SCANNED])

    def run(self, ctx: RunContext) -> dict[str, Any]:
        eng, close = engine_for(ctx)  # the model steps run where the engine runs
        try:
            return run_emotion(ctx.store.con, tuple(ctx.workspace.settings.languages),
                               ctx.stages.emotion, ctx.progress, full=ctx.full, eng=eng)  # fmt: skip
        finally:
            if close:
                eng.close()


STAGE = EmotionStage()
