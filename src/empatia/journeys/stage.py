"""The ``journeys`` stage of ``empatia run``: steps, sessions and journeys from events."""

from __future__ import annotations

from typing import Any

from empatia.journeys.build import build
from empatia.journeys.config import load_stage_map
from empatia.pipeline import RunContext, register_stage
from empatia.store.engine import engine_for


class JourneysStage:
    """Rebuilds ``journey_steps``, ``journey_sessions`` and ``journeys`` (Ibis: DuckDB or Spark).

    Run option ``journeys_stages``: a TOML file mapping events to stages (see ``stages.toml``).
    """

    name = "journeys"
    after: tuple[str, ...] = ("identity",)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        store = ctx.workspace.store
        smap = load_stage_map(store.con, ctx.options)
        ctx.progress.total(3)
        eng, owned = engine_for(ctx)
        try:
            return build(eng, smap, ctx.progress)
        finally:
            if owned:
                eng.close()


STAGE = register_stage(JourneysStage())
