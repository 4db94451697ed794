"""The ``experience`` stage of ``empatia run``: surveys, effort, trajectories, perception gap."""

from __future__ import annotations

from typing import Any

from empatia.experience.config import ExperienceConfig
from empatia.experience.effort import build_journeys
from empatia.experience.gap import build_gap
from empatia.experience.surveys import build_responses
from empatia.experience.mood import build_trajectories
from empatia.pipeline import RunContext, register_stage


class ExperienceStage:
    """Rebuilds ``survey_responses``, ``experience_journeys``, ``experience_trajectories`` and
    ``experience_gap`` from the event log, identity's ``event_persons`` and emotion's
    ``text_analysis`` (when present).

    Run option ``experience``: a dict overriding :class:`ExperienceConfig` thresholds.
    The stage is SQL on the store's DuckDB; on ``--engine spark`` it still runs there.
    """

    name = "experience"
    after: tuple[str, ...] = ("identity", "emotion")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        cfg = ExperienceConfig.from_options(ctx.options)
        con = ctx.workspace.store.con
        ctx.progress.total(4)
        figures: dict[str, Any] = {}
        figures.update(build_journeys(con, cfg))
        ctx.progress.advance(1)
        n = build_responses(con, cfg)
        row = con.execute(
            "select count(*) filter (where excluded) from survey_responses"
        ).fetchone()
        figures.update({"survey_answers": n, "survey_excluded": int(row[0]) if row else 0})
        ctx.progress.advance(1)
        figures["trajectories"] = build_trajectories(con) if _has(con, "text_analysis") else 0
        ctx.progress.advance(1)
        figures.update(build_gap(con))
        ctx.progress.advance(1)
        return figures


def _has(con: Any, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


STAGE = register_stage(ExperienceStage())
