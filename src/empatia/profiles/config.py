"""How profiles are built: the ``[stages.profiles]`` section of the workspace settings
(:mod:`empatia.settings`; ``EMPATIA_STAGES__PROFILES__*``).

>>> ProfileConfig(source_precedence=("crm", "store")).source_precedence
('crm', 'store')
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProfileConfig(BaseModel):
    """Trait source precedence and customer-value settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    clv_fit_buyers: int = Field(
        100_000,
        ge=2,
        description="The CLV model is fitted on at most this many buyers — the same ones every "
        "run and on every engine (the lowest SHA-256 of their person id) — so that what the "
        "fit brings into one process does not grow with the data; everyone is scored.",
    )

