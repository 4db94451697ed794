"""How identity resolution behaves, per workspace.

The ``[stages.identity]`` section of the workspace settings (:mod:`empatia.settings`):
argument → ``EMPATIA_STAGES__IDENTITY__*`` → empatia.toml → these defaults.

>>> IdentityConfig(default_region="PL").max_neighbours["phone"]
5
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Identifier kinds, in the order that picks an event's person (the first one not blocked).
KINDS: tuple[str, ...] = (
    "user_id", "crm_id", "loyalty_id", "email", "phone", "anonymous_id", "device_id",
)  # fmt: skip

#: Kinds that name one person; over-merging is measured by how many of these one
#: identifier is seen with.
STRONG_KINDS: tuple[str, ...] = ("user_id", "email", "crm_id", "loyalty_id")


#: Settings that say when the batch resolution runs, not what it links.
WHEN_FIELDS = frozenset({"fresh_max", "rematch_records", "full_days"})


class IdentityConfig(BaseModel):
    """Rules for normalising and stitching identifiers, and when the batch resolution runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_region: str = Field(
        "US", description="Region for phone numbers written without a country code."
    )
    lowercase_ids: tuple[str, ...] = Field(
        (), description="Kinds (besides email) compared case-insensitively, e.g. loyalty_id."
    )
    email_strip_plus: bool = Field(
        False, description="Treat a+tag@x.com as a@x.com (sub-addressing)."
    )
    max_neighbours: dict[str, int] = Field(
        default_factory=lambda: {
            "user_id": 10,
            "email": 5,
            "phone": 5,
            "device_id": 5,
            "anonymous_id": 5,
            "crm_id": 3,
            "loyalty_id": 3,
        },  # fmt: skip
        description="Over-merge guard: an identifier seen with more distinct identifiers of "
        "one strong kind (user_id, email, crm_id, loyalty_id) than this is blocked.",
    )
    blocked_values: tuple[str, ...] = Field(
        (), description="'kind:value' identifiers never used to stitch (known placeholders)."
    )
    match_threshold: float = Field(
        0.95, ge=0, le=1, description="Splink: link records at or above this probability."
    )
    review_threshold: float = Field(
        0.5, ge=0, le=1, description="Splink: pairs between this and match_threshold go to review."
    )
    probabilistic: bool = Field(True, description="Run Splink on CRM/loyalty records.")

    fresh_max: int = Field(
        20_000, ge=0, description="A run with more new events than this resolves in batch."
    )
    rematch_records: int = Field(
        500, ge=1, description="Batch matching is due after this many new CRM/loyalty records."
    )
    full_days: float = Field(7, gt=0, description="… or when the last batch is this old.")
