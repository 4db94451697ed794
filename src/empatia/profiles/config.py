"""How profiles are built, per workspace (``options={"profiles": {...}}`` or
``EMPATIA_PROFILES_*``).

>>> ProfileConfig(source_precedence=("crm", "store")).source_precedence
('crm', 'store')
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from empatia.errors import ConfigError


class ProfileConfig(BaseSettings):
    """Trait source precedence and customer-value settings."""

    model_config = SettingsConfigDict(env_prefix="EMPATIA_PROFILES_", extra="forbid", frozen=True)

    source_precedence: tuple[str, ...] = Field(
        (),
        description="Sources whose trait values win, first first: channels (crm, store, web, …) "
        "or event sources (key:…, file:…). Unlisted sources come after; ties: the latest wins.",
    )
    trait_precedence: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Per-trait precedence, overriding source_precedence for that trait.",
    )
    clv_months: int = Field(12, ge=1, description="Horizon of the customer lifetime value.")
    clv_discount_monthly: float = Field(0.01, ge=0, description="Monthly discount rate for CLV.")
    clv_penalizer: float = Field(
        0.01,
        ge=0,
        description="L2 penalty of the fits (raised ×10, twice, if they do not converge).",
    )
    clv_min_customers: int = Field(
        20, ge=2, description="Fewer buyers than this: CLV is not estimated (left empty)."
    )

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> ProfileConfig:
        raw = (options or {}).get("profiles", {})
        if isinstance(raw, ProfileConfig):
            return raw
        from pydantic import ValidationError

        try:
            return cls(**raw)
        except ValidationError as e:
            raise ConfigError(f"invalid profile settings: {e}") from e
