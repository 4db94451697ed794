"""The ``care`` stage of ``empatia run``: the special-care list, its alerts and their delivery."""

from __future__ import annotations

from typing import Any

from empatia.care.build import run_care
from empatia.care.config import load_weights
from empatia.pipeline import RunContext, register_stage


class CareStage:
    """Ranks influence × risk × value, writes ``care_list``, alerts on entering or worsening.

    Run options: ``care_weights`` (a TOML file), ``care`` (overrides), ``care_deliver``
    (default true: push new alerts to the webhooks).
    """

    name = "care"
    after: tuple[str, ...] = ("privacy", "profiles", "emotion", "experience")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        w = load_weights(options=ctx.options)
        deliver = ctx.options.get("care_deliver", True)
        return run_care(ctx.workspace.store.con, w, deliver=deliver, full=ctx.full)


STAGE = register_stage(CareStage())
