"""Pluggable parts come from entry points, Empatia's own included, and load loudly."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from empatia import plugins
from empatia.errors import ConfigError


def _group(monkeypatch: pytest.MonkeyPatch, *eps: tuple[str, str]) -> None:
    found = [EntryPoint(name, value, "empatia.test") for name, value in eps]
    monkeypatch.setattr(plugins, "entry_points", lambda group: found if group == "empatia.test" else [])


def test_every_built_in_part_is_an_entry_point() -> None:
    from empatia.care.delivery import SINKS
    from empatia.decide.recommenders import RECOMMENDERS, Hybrid
    from empatia.emotion.registry import ANALYZERS
    from empatia.pipeline import STAGES

    assert set(STAGES) == {"identity", "privacy", "profiles", "emotion", "experience",
                           "journeys", "care", "decide"}  # fmt: skip
    assert {"encoder", "fast", "transformers"} <= set(ANALYZERS)
    assert "webhook" in SINKS
    assert RECOMMENDERS["hybrid"] is Hybrid and {"als", "buy_again", "persona"} <= set(RECOMMENDERS)


def test_a_part_that_cannot_be_loaded_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _group(monkeypatch, ("good", "empatia.errors:ConfigError"), ("broken", "empatia.nowhere:X"))
    with pytest.raises(ConfigError, match=r"empatia.test 'broken' \(empatia.nowhere:X\) cannot be loaded"):
        list(plugins.Registry[Any]("empatia.test"))


def test_an_empty_group_is_an_error_not_an_empty_product(monkeypatch: pytest.MonkeyPatch) -> None:
    _group(monkeypatch)
    with pytest.raises(ConfigError, match="nothing registered under 'empatia.test'"):
        len(plugins.Registry[Any]("empatia.test"))


def test_a_part_added_at_run_time_stays_in_its_own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    _group(monkeypatch, ("good", "empatia.errors:ConfigError"))
    mine, other = plugins.Registry[Any]("empatia.test"), plugins.Registry[Any]("empatia.test")
    mine.add("extra", 1)
    assert set(mine) == {"good", "extra"} and set(other) == {"good"}
    assert mine["good"] is ConfigError
