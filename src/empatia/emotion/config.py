"""The emotion stage's settings (``[stages.emotion]`` in empatia.toml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: With no analyzer chosen, a backlog larger than this is analysed with ``fast`` (the encoder
#: does ~60–150 short texts/s on two cores; ``fast`` thousands). Choose explicitly with
#: ``empatia emotion use encoder`` to always use the encoder.
AUTO_FAST_ABOVE = 20_000


class EmotionSettings(BaseModel):
    """Which analyzer reads the texts, and what the stage adds to its answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    analyzer: str | None = Field(
        None,
        description="encoder, fast, transformers or auto; unset: the workspace's choice "
        "(`empatia emotion use`), else auto.",
    )
    auto_fast_above: int = Field(
        AUTO_FAST_ABOVE, ge=0, description="auto: a backlog larger than this uses `fast`."
    )
    themes: bool = Field(True, description="Match texts to themes (needs the encoder).")
    redact: bool = Field(
        False,
        description="Redact personal data in stored sentences (also `empatia emotion use "
        "--redact`).",
    )
