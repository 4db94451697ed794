"""The weights of special care: one TOML file shipped in the package, replaceable per workspace.

Resolved as: explicit path → run option ``care_weights`` → ``EMPATIA_CARE_WEIGHTS`` → the
shipped ``weights.toml``; then ``options["care"]`` (a nested dict) overrides single values.

>>> w = load_weights(overrides={"influence": {"press": 0.9}})
>>> w.influence.press, w.influence.profession["journalist"]
(0.9, 0.8)
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from empatia.errors import ConfigError

ENV_VAR = "EMPATIA_CARE_WEIGHTS"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InfluenceWeights(_Section):
    floor: float = Field(0.03, ge=0, le=1)
    audience: float = Field(0.85, ge=0, le=1)
    audience_full: float = Field(1_000_000, gt=100)
    audience_min: float = Field(1_000, ge=0)
    press: float = Field(0.8, ge=0, le=1)
    vip: float = Field(0.5, ge=0, le=1)
    referrals: float = Field(0.35, ge=0, le=1)
    referrals_full: float = Field(50, gt=0)
    public_reviews: float = Field(0.25, ge=0, le=1)
    public_reviews_full: float = Field(10, gt=0)
    profession: dict[str, float] = Field(default_factory=dict)
    tier: dict[str, float] = Field(default_factory=dict)


class RiskWeights(_Section):
    window_days: float = Field(45, gt=0)
    half_life_days: float = Field(14, gt=0)
    negative_words: float = Field(0.55, ge=0, le=1)
    anger: float = Field(0.6, ge=0, le=1)
    last_negative: float = Field(0.35, ge=0, le=1)
    trajectory: float = Field(0.3, ge=0, le=1)
    escalation: float = Field(0.85, ge=0, le=1)
    unresolved: float = Field(0.6, ge=0, le=1)
    unresolved_contacts_full: float = Field(4, gt=0)
    effort: float = Field(0.4, ge=0, le=1)
    wait_hours_full: float = Field(48, gt=0)
    hurt: float = Field(0.5, ge=0, le=1)
    bad_review: float = Field(0.3, ge=0, le=1)


class ValueWeights(_Section):
    floor: float = Field(0.5, ge=0, le=1)
    clv_full: float = Field(2000, gt=0)


class AlertSettings(_Section):
    min_score: float = Field(0.05, ge=0, le=1)
    max_list: int = Field(200, ge=1)
    worsen_ratio: float = Field(1.25, gt=1)
    worsen_on_new_threat: bool = True


class DeliverySettings(_Section):
    max_attempts: int = Field(5, ge=1, le=20)
    backoff_seconds: float = Field(1.0, ge=0)
    timeout_seconds: float = Field(10.0, gt=0)


class PrivacySettings(_Section):
    exclude_without: tuple[str, ...] = ()


class CareWeights(_Section):
    """Every number that decides who gets special care (see ``weights.toml``)."""

    influence: InfluenceWeights = InfluenceWeights()
    risk: RiskWeights = RiskWeights()
    value: ValueWeights = ValueWeights()
    alerts: AlertSettings = AlertSettings()
    delivery: DeliverySettings = DeliverySettings()
    privacy: PrivacySettings = PrivacySettings()


def default_weights_path() -> Path:
    return Path(str(resources.files("empatia.care").joinpath("weights.toml")))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_weights(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> CareWeights:
    """The weights to use (see the module docstring for the order)."""
    options = options or {}
    if isinstance(options.get("care"), CareWeights):
        return options["care"]  # type: ignore[no-any-return]
    chosen = (
        path or options.get("care_weights") or os.environ.get(ENV_VAR) or default_weights_path()
    )
    try:
        raw = tomllib.loads(Path(chosen).read_text())
    except FileNotFoundError as e:
        raise ConfigError(
            f"care weights file {chosen} not found; set {ENV_VAR} to a TOML file", path=str(chosen)
        ) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"care weights file {chosen} is not valid TOML: {e}", path=str(chosen)
        ) from e
    raw = _merge(raw, options.get("care") or {})
    raw = _merge(raw, overrides or {})
    try:
        return CareWeights(**raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid care weights in {chosen}: {problems}", path=str(chosen)) from e
