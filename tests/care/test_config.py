"""The weights file: shipped defaults, a workspace file, overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from empatia.care.config import ENV_VAR, default_weights_path, load_weights
from empatia.errors import ConfigError


def test_shipped_file_matches_the_model_defaults() -> None:
    w = load_weights()
    assert default_weights_path().is_file()
    assert w.influence.profession["journalist"] == 0.8 and w.alerts.min_score == 0.05
    assert w.privacy.exclude_without == ()


def test_a_workspace_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "w.toml"
    f.write_text(default_weights_path().read_text().replace("press = 0.8", "press = 0.1"))
    monkeypatch.setenv(ENV_VAR, str(f))
    assert load_weights().influence.press == 0.1
    assert load_weights(options={"care": {"influence": {"press": 0.3}}}).influence.press == 0.3


def test_bad_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_weights(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[influence]\npress = 3\n")
    with pytest.raises(ConfigError, match="influence.press"):
        load_weights(bad)
    bad.write_text("[influence\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_weights(bad)
