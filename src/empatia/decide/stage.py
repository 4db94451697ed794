"""The ``decide`` stage of ``empatia run``: train, then one decision per person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from empatia.pipeline import RunContext, register_stage


class DecideStage:
    """Next-best action for every person, explained (issue #8)."""

    name = "decide"
    after: tuple[str, ...] = ("profiles", "emotion", "experience", "care", "privacy")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from empatia.decide.catalogue import load_catalogue
        from empatia.decide.engine import run

        export = ctx.options.get("decide_export")
        catalogue = load_catalogue(ctx.options.get("decide_actions"))
        return run(ctx.workspace.store, export=Path(export) if export else None,
                   catalogue=catalogue, progress=ctx.progress.advance)


STAGE = register_stage(DecideStage())
