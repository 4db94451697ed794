"""The ``emotion`` stage of ``empatia run``: language, sentiment, emotions, effort, themes."""

from __future__ import annotations

from typing import Any

from empatia.emotion.incremental import SCANNED, run_emotion
from empatia.pipeline import RunContext


class EmotionStage:
    """Analyses new text touchpoints (cached by text and analyzer version); rebuilds aggregates.

    Writes ``text_analysis``, ``text_sentences``, ``touchpoint_emotion`` and ``person_emotion``
    (each person's texts, through identity's ``event_persons``).
    """

    name = "emotion"
    reads = ("events", "event_persons")
    writes = ("text_analysis", "text_sentences", "text_cache", "touchpoint_emotion", "person_emotion",
              "theme_clusters", "emotion_config")

    def fingerprint(self, ctx: RunContext) -> str:
        """The workspace's own choices in ``emotion_config`` (its progress kept there aside)."""
        rows = ctx.workspace.store.con.execute(
            "select key, value from emotion_config where key <> ? order by key", [SCANNED]
        ).fetchall()
        return repr(rows)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        ws = ctx.workspace
        return run_emotion(
            ws.store.con, tuple(ws.settings.languages), ctx.stages.emotion, ctx.progress,
            full=ctx.full,
        )


STAGE = EmotionStage()
