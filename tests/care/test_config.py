"""Care weights: defaults kept once (in code), a workspace file, settings on top, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from empatia.care.config import CareSettings, load_weights
from empatia.errors import ConfigError
from empatia.settings import load_settings


def test_the_defaults() -> None:
    w = load_weights()
    assert w.influence.profession["journalist"] == 0.8 and w.alerts.min_score == 0.05
    assert w.influence.tier["gold"] == 0.2 and w.privacy.exclude_without == ()


def test_a_workspace_file_and_settings_on_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "w.toml"
    f.write_text("[influence]\npress = 0.1\n[risk]\nanger = 0.2\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empatia.toml").write_text(
        f'[stages.care]\nweights_file = "{f}"\n[stages.care.influence]\npress = 0.3\n'
    )
    monkeypatch.setenv("EMPATIA_STAGES__CARE__RISK__EFFORT", "0.9")
    care = load_settings().stages.care
    w = load_weights(settings=care)
    assert w.influence.press == 0.3  # the settings win over the file …
    assert w.risk.anger == 0.2  # … the file over the defaults
    assert w.risk.effort == 0.9 and w.influence.vip == 0.5


def test_bad_files_and_values_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_weights(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[influence]\npress = 3\n")
    with pytest.raises(ConfigError, match="influence.press"):
        load_weights(bad)
    bad.write_text("[influence\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_weights(bad)
    with pytest.raises(ConfigError, match="stages.care.risk.angr"):
        load_settings(stages={"care": {"risk": {"angr": 0.5}}})
    assert CareSettings(deliver=False).deliver is False
