"""The ``care`` stage of ``empatia run``: the special-care list, its alerts and their delivery."""

from __future__ import annotations

from typing import Any

from empatia.care.build import run_care
from empatia.care.config import load_weights
from empatia.care.delivery import deliver_pending
from empatia.pipeline import RunContext
from empatia.store.engine import engine_for


class CareStage:
    """Ranks influence × risk × value, writes ``care_list``, alerts on entering or worsening.

    Settings: ``[stages.care]`` (:class:`~empatia.care.config.CareSettings`: the weights, a
    ``weights_file``, ``deliver`` new alerts to the webhooks, default true).

    Ibis on the engine (:func:`~empatia.store.engine.engine_for`): ``care_traits`` and every
    input are Ibis expressions (:mod:`empatia.care.inputs`), packed one row per person at
    risk; scoring and explaining them is a Python model step (:mod:`empatia.care.step`, the
    engine's ``map_batches``); consent, quiet cases and the ranking are Ibis; the list's top
    comes to the driver to decide alerts, and ``care_list`` / ``care_alerts`` are written
    through the engine. Delivering to webhooks (``care_deliveries``) stays on the store, after
    the commit.
    """

    name = "care"
    reads = ("privacy_audit", "events", "event_persons", "text_analysis", "experience_journeys", "profiles",
             "profile_traits", "consent_current", "care_webhooks", "care_acknowledgements")
    writes = ("care_list", "care_traits", "care_alerts", "care_deliveries")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        settings = ctx.stages.care
        w = load_weights(settings=settings)
        eng, close = engine_for(ctx)
        try:
            figures = run_care(ctx.store.con, w, deliver=False, full=ctx.full, eng=eng)
        finally:
            if close:
                eng.close()
        if settings.deliver:  # only alerts that were committed leave the house
            def deliver() -> None:
                sent = deliver_pending(ctx.workspace.store.con, w.delivery)
                figures.update({k: v for k, v in sent.items() if v})

            ctx.after_commit(deliver)
        return figures


STAGE = CareStage()
