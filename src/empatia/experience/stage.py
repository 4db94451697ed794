"""The ``experience`` stage of ``empatia run``: surveys, effort, trajectories, perception gap."""

from __future__ import annotations

import json
from typing import Any

from empatia.experience.activity import build_facts
from empatia.experience.activity_fit import refresh
from empatia.experience.config import ExperienceConfig
from empatia.experience.effort import build_journeys, index_cases, update_journeys
from empatia.experience.gap import build_gap
from empatia.experience.mood import build_trajectories
from empatia.experience.surveys import build_responses
from empatia.pipeline import RunContext
from empatia.store.changes import CHANGED, TEXTS, changed_persons, save_marks
from empatia.store.engine import Engine, engine_for


class ExperienceStage:
    """Rebuilds ``survey_responses``, ``experience_journeys``, ``experience_trajectories``,
    ``experience_activity`` ("still active") and ``experience_gap`` from the event log,
    identity's ``event_persons``, emotion's ``text_analysis`` (when present) and profiles'
    ``p_alive``.

    Settings: ``[stages.experience]`` (:class:`ExperienceConfig` thresholds).

    The stage runs on the engine of the run (:func:`~empatia.store.engine.engine_for`): every
    table it builds is Ibis on the engine (DuckDB or Spark) — ``experience_case_events``,
    ``experience_journeys`` (judged by a Python step, :meth:`~empatia.store.engine.Engine.map_batches`),
    ``experience_trajectories``, ``experience_activity`` (its facts, then everyone's drivers
    and ``p_active``, weighed by a Python step), ``survey_responses`` (with the hygiene rules)
    and ``experience_gap`` — written with :meth:`~empatia.store.engine.Engine.write`, only the
    changed people's rows on an incremental run. The model of "still active"
    (``experience_activity_model``) is fitted where the engine runs
    (:meth:`~empatia.store.engine.Engine.fit`: in process on DuckDB, in one executor's Python
    worker on Spark) on the rhythm's summary, the drivers as they stood at the cutoff and who
    bought after it, with lifetimes and SciPy; only the parameters come back, and they are
    written with :meth:`~empatia.store.engine.Engine.write_arrow`. Which people changed,
    the marks and the counts are bookkeeping on the store's cursor; which cases an incremental
    run rebuilds (:func:`~empatia.experience.effort.affected`) is Ibis too, a fixpoint over
    :meth:`~empatia.store.engine.Engine.materialize`. An engine that cannot replace rows in
    place (Spark) rebuilds everything.
    """

    name = "experience"
    reads = ("privacy_audit", "events", "event_persons", "text_analysis", "text_sentences", "profiles", "consent_current")
    writes = ("experience_journeys", "experience_case_events", "experience_trajectories",
              "experience_activity", "experience_activity_model", "experience_gap",
              "survey_responses", "journey_unresolved")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        eng, owned = engine_for(ctx)
        try:
            with eng.store_cursor() as con:
                return self._run(ctx, eng, con)
        finally:
            if owned:
                eng.close()

    def _run(self, ctx: RunContext, eng: Engine, con: Any) -> dict[str, Any]:
        cfg: ExperienceConfig = ctx.stages.experience
        ctx.progress.total(4)
        # Service journeys and trajectories: only the people whose events or analysed texts
        # changed (empatia.store.changes); surveys and the perception gap: everything.
        # (``True``: texts are always read now; kept so that stores' marks stay valid)
        settings = json.dumps([cfg.model_dump(), True], sort_keys=True, default=str)
        changes = changed_persons(con, "experience", settings, also=(TEXTS,),
                                  full=ctx.full, incremental=eng.incremental)  # fmt: skip
        texts = eng.has("text_analysis")
        figures: dict[str, Any] = {}
        if changes.full:
            figures.update(build_journeys(eng, con, cfg))
            index_cases(eng, con, full=True)
            ctx.progress.advance(1)
            build_trajectories(eng)
            build_facts(eng, cfg, texts, None)
            figures["mode"] = "full" if changes.full == "full" else f"full ({changes.full})"
        else:
            figures.update(update_journeys(eng, con, cfg, CHANGED))
            ctx.progress.advance(1)
            build_trajectories(eng, CHANGED)
            build_facts(eng, cfg, texts, CHANGED)
            figures |= {"mode": "incremental", "recomputed": len(changes.persons)}
        save_marks(con, changes)
        figures["trajectories"] = eng.count(eng.table("experience_trajectories"))
        # "still active" depends on now, profiles' p_alive and the journeys: everyone's, cheaply
        p_alive = eng.has("profiles") and "p_alive" in eng.table("profiles").columns
        figures.update(refresh(eng, cfg, texts=texts, p_alive=p_alive))
        ctx.progress.advance(1)
        n = build_responses(con, eng, cfg)
        responses = eng.table("survey_responses")
        figures.update({"survey_answers": n,
                        "survey_excluded": eng.count(responses.filter(responses.excluded))})  # fmt: skip
        ctx.progress.advance(1)
        figures.update(build_gap(eng))
        ctx.progress.advance(1)
        return figures


STAGE = ExperienceStage()
