"""The privacy stage's settings (``[stages.privacy]`` in empatia.toml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class PrivacySettings(BaseModel):
    """The ``[stages.privacy]`` section of the workspace settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_file: Path | None = Field(
        None, description="Retention policies (TOML, the shape of the shipped retention.toml)."
    )
    retention: dict[str, str | dict[str, str]] = Field(
        default_factory=dict,
        description='Per table, changing the file: events = "10 years"; a table the file lacks: '
        '{ column = "…", keep = "…" }.',
    )
    apply_retention: bool = Field(True, description="Delete what is older than its policy.")
    rewrite: bool = Field(
        True, description="Compact the store file after late events of erased people were dropped."
    )
