"""The runner orders stages by their dependencies and passes settings' stage options."""

from __future__ import annotations

from typing import Any

import pytest

from empatia.errors import ConfigError
from empatia.pipeline import STAGES, RunContext, ordered_stages, run_pipeline
from empatia.workspace import Workspace


def test_stages_run_after_what_they_need() -> None:
    order = [s.name for s in ordered_stages()]
    for stage in ordered_stages():
        for dep in stage.after:
            if dep in STAGES:
                assert order.index(dep) < order.index(stage.name), (dep, stage.name)


def test_unknown_stage_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown stage"):
        ordered_stages(["no-such-stage"])


def test_settings_stage_options_reach_the_stage() -> None:
    seen: dict[str, Any] = {}

    class Probe:
        name, after = "probe-test", ()

        def run(self, ctx: RunContext) -> dict[str, Any]:
            seen.update(ctx.options)
            return {"ok": 1}

    STAGES["probe-test"] = Probe()
    try:
        ws = Workspace(db=":memory:", stages={"probe": {"threshold": 0.9}})
        [result] = run_pipeline(RunContext(ws, options={"master": "local[1]"}), only=["probe-test"])
        assert result.figures == {"ok": 1}
        assert seen == {"probe": {"threshold": 0.9}, "master": "local[1]"}
    finally:
        del STAGES["probe-test"]
