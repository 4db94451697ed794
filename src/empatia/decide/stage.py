"""The ``decide`` stage of ``empatia run``: train when due, then decisions (issue #8).

Training runs on a schedule or when enough changed (see :mod:`empatia.decide.refresh`); other
runs re-decide only for the people whose inputs changed.

The stage runs on the engine (:func:`~empatia.store.engine.engine_for`): the recommender is
fitted where the engine runs (:meth:`~empatia.store.engine.Engine.fit`: in process on DuckDB, in
one executor's Python worker on Spark, never through the driver) from the purchases (person ×
item occasions) of at most ``fit_people`` buyers, then each person's state, scoring (the model
rebased on their own purchases) and choosing is a Python model step
(:meth:`~empatia.store.engine.Engine.map_batches`, in process on DuckDB, on the executors on
Spark) over one row of signals per person
(:func:`empatia.decide.signals.signals_expr`: the other stages' tables and the event log, consent
included, read on the same engine), whose rows Ibis writes into ``decide_inputs`` and
``decisions`` (:func:`empatia.decide.engine.run`, :func:`empatia.decide.refresh.refresh`);
``decide_runs`` is a bookkeeping row.
"""

from __future__ import annotations

from typing import Any

from empatia.pipeline import RunContext
from empatia.store.engine import engine_for


class DecideStage:
    """Next-best action for every person, explained."""

    name = "decide"
    reads = ("events", "event_persons", "identities", "profiles", "text_analysis", "experience_journeys",
             "care_list", "consent_current", "exchange_rates")
    writes = ("decide_inputs", "decide_runs", "decisions")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from empatia.decide.catalogue import load_catalogue
        from empatia.decide.engine import export_decisions, run
        from empatia.decide.refresh import changed_people, refresh, retrain_reason

        store = ctx.store
        settings = ctx.stages.decide
        export = settings.export
        catalogue = load_catalogue(settings.actions_file)
        eng, close = engine_for(ctx)  # the model steps run where the engine runs
        try:
            reason = retrain_reason(eng, settings, full=ctx.full)
            if reason is None:
                people = changed_people(eng)
                if len(people) <= settings.refresh_max:
                    figures = refresh(store, people, catalogue, eng=eng)
                    if export:
                        export_decisions(eng, export)
                    return figures
                reason = f"{len(people)} people changed"
            figures = run(store, export=export, catalogue=catalogue, eng=eng,
                          progress=ctx.progress.advance, fit_people=settings.fit_people)  # fmt: skip
        finally:
            if close:
                eng.close()
        return {"retrained": reason, **figures}


STAGE = DecideStage()
