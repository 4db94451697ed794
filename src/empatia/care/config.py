"""The weights of special care: the ``[stages.care]`` section of the workspace settings.

Every number has its default here, and only here. A workspace changes them in
``[stages.care.influence]`` … of empatia.toml (or ``EMPATIA_STAGES__CARE__RISK__ANGER`` …), or
keeps them in a TOML file of the same shape named by ``[stages.care] weights_file``; values
written in the settings win over the file.

>>> w = load_weights(overrides={"influence": {"press": 0.9}})
>>> w.influence.press, w.influence.profession["journalist"]
(0.9, 0.8)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from empatia.errors import ConfigError

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
    #: trait profession, lower-cased; unlisted professions count 0
    profession: dict[str, float] = Field(default_factory=lambda: {
        "journalist": 0.8, "reporter": 0.8, "blogger": 0.6, "influencer": 0.6, "youtuber": 0.6,
        "musician": 0.55, "artist": 0.5, "actor": 0.55, "athlete": 0.45, "politician": 0.7,
        "vip": 0.5,
    })  # fmt: skip
    #: loyalty tier, lower-cased
    tier: dict[str, float] = Field(
        default_factory=lambda: {"platinum": 0.3, "gold": 0.2, "silver": 0.1}
    )


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
    """Every number that decides who gets special care."""

    influence: InfluenceWeights = InfluenceWeights()
    risk: RiskWeights = RiskWeights()
    value: ValueWeights = ValueWeights()
    alerts: AlertSettings = AlertSettings()
    delivery: DeliverySettings = DeliverySettings()
    privacy: PrivacySettings = PrivacySettings()


class CareSettings(CareWeights):
    """``[stages.care]``: the weights, a file of weights, and whether alerts are pushed."""

    weights_file: Path | None = Field(
        None, description="A TOML file of weights (same sections); the settings' values win."
    )
    deliver: bool = Field(True, description="Push new alerts to the webhooks after a run.")


def _read(path: str | Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"care weights file {path} not found", path=str(path)) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"care weights file {path} is not valid TOML: {e}", path=str(path)) from e


def load_weights(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    settings: CareSettings | None = None,
) -> CareWeights:
    """The weights to use: the defaults ← the file at ``path`` (or ``settings.weights_file``)
    ← the values set in ``settings`` ← ``overrides``."""
    from empatia.settings import deep_merge  # the settings tree imports this module

    settings = settings or CareSettings()
    chosen = path or settings.weights_file
    raw = _read(chosen) if chosen else {}
    set_here = settings.model_dump(exclude_unset=True, exclude={"weights_file", "deliver"})
    raw = deep_merge(deep_merge(raw, set_here), overrides or {})
    try:
        return CareWeights(**raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        where = f" in {chosen}" if chosen else ""
        raise ConfigError(f"invalid care weights{where}: {problems}", path=str(chosen)) from e
