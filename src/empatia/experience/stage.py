"""The ``experience`` stage of ``empatia run``: surveys, effort, trajectories, perception gap."""

from __future__ import annotations

import json
from typing import Any

from empatia.experience.activity import build_facts
from empatia.experience.activity_fit import refresh
from empatia.experience.effort import build_journeys, index_cases, update_journeys
from empatia.experience.gap import build_gap
from empatia.experience.surveys import build_responses
from empatia.experience.mood import build_trajectories, update_trajectories
from empatia.pipeline import RunContext
from empatia.store import transaction
from empatia.store.changes import CHANGED, TEXTS, changed_persons, save_marks


class ExperienceStage:
    """Rebuilds ``survey_responses``, ``experience_journeys``, ``experience_trajectories``,
    ``experience_activity`` ("still active") and ``experience_gap`` from the event log,
    identity's ``event_persons``, emotion's ``text_analysis`` (when present) and profiles'
    ``p_alive``.

    Settings: ``[stages.experience]`` (:class:`ExperienceConfig` thresholds).
    The stage is SQL on the store's DuckDB; on ``--engine spark`` it still runs there (#17).
    """

    name = "experience"
    reads = ("privacy_audit", "events", "event_persons", "text_analysis", "text_sentences", "profiles", "consent_current")
    writes = ("experience_journeys", "experience_case_events", "experience_trajectories",
              "experience_activity", "experience_activity_model", "experience_gap",
              "survey_responses", "journey_unresolved")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        cfg = ctx.stages.experience
        con = ctx.store.con
        ctx.progress.total(4)
        # Service journeys and trajectories: only the people whose events or analysed texts
        # changed (empatia.store.changes); surveys and the perception gap: everything.
        # (``True``: texts are always read now; kept so that stores' marks stay valid)
        settings = json.dumps([cfg.model_dump(), True], sort_keys=True, default=str)
        changes = changed_persons(con, "experience", settings, also=(TEXTS,), full=ctx.full)
        figures: dict[str, Any] = {}
        if changes.full:
            figures.update(build_journeys(con, cfg))
            index_cases(con, full=True)
            ctx.progress.advance(1)
            figures["trajectories"] = build_trajectories(con)
            with transaction(con):
                build_facts(con, cfg, None)
                save_marks(con, changes)
            figures["mode"] = "full" if changes.full == "full" else f"full ({changes.full})"
        else:
            with transaction(con):
                figures.update(update_journeys(con, cfg, CHANGED))
                ctx.progress.advance(1)
                figures["trajectories"] = update_trajectories(con, CHANGED)
                build_facts(con, cfg, CHANGED)
                save_marks(con, changes)
            figures |= {"mode": "incremental", "recomputed": len(changes.persons)}
        # "still active" depends on now, profiles' p_alive and the journeys: everyone's, cheaply
        figures.update(refresh(con, cfg))
        ctx.progress.advance(1)
        n = build_responses(con, cfg)
        row = con.execute(
            "select count(*) filter (where excluded) from survey_responses"
        ).fetchone()
        figures.update({"survey_answers": n, "survey_excluded": int(row[0]) if row else 0})
        ctx.progress.advance(1)
        figures.update(build_gap(con))
        ctx.progress.advance(1)
        return figures


STAGE = ExperienceStage()
