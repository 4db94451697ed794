"""The ``journeys`` stage of ``empatia run``: steps, sessions and journeys from events."""

from __future__ import annotations

import json
from typing import Any

from empatia.journeys.build import SESSION_MINUTES, build, update
from empatia.journeys.config import load_stage_map
from empatia.pipeline import RunContext
from empatia.store.changes import changed_persons, save_marks
from empatia.store.engine import engine_for


class JourneysStage:
    """Rebuilds ``journey_steps``, ``journey_sessions`` and ``journeys`` (Ibis: DuckDB or Spark).

    ``[stages.journeys] stage_map_file``: a TOML file mapping events to stages (see
    ``stages.toml``).
    """

    name = "journeys"
    reads = ("privacy_audit", "events", "event_persons", "journey_stage_map")
    writes = ("journey_steps", "journey_sessions", "journeys")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        store = ctx.store
        smap = load_stage_map(store.con, ctx.stages.journeys.stage_map_file)
        ctx.progress.total(3)
        eng, owned = engine_for(ctx)
        # Incremental where the engine allows: only the people whose events changed
        settings = json.dumps([smap.mapping, smap.order, SESSION_MINUTES], sort_keys=True)
        try:
            with eng.store_cursor() as con:
                changes = changed_persons(con, "journeys", settings,
                                          full=ctx.full, incremental=eng.incremental)  # fmt: skip
                if changes.full:
                    figures: dict[str, Any] = build(eng, smap, ctx.progress)
                    figures["mode"] = "full" if changes.full == "full" else f"full ({changes.full})"
                    save_marks(con, changes)
                    return figures
                if not changes.persons:
                    save_marks(con, changes)
                    return {"mode": "incremental", "recomputed": 0}
                figures = update(eng, con, smap, changes)
                return {**figures, "mode": "incremental", "recomputed": len(changes.persons)}
        finally:
            if owned:
                eng.close()

STAGE = JourneysStage()
