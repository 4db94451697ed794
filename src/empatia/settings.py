"""Typed settings: explicit argument → ``EMPATIA_*`` environment variable → ``empatia.toml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from empatia.errors import ConfigError

DEFAULT_LANGUAGES = ("en", "pl", "ru", "fa", "de", "es", "fr")


class Settings(BaseSettings):
    """Everything configurable about one Empatia workspace.

    >>> Settings(db="/tmp/x.duckdb").db.name
    'x.duckdb'
    """

    model_config = SettingsConfigDict(
        env_prefix="EMPATIA_", toml_file="empatia.toml", extra="forbid", frozen=True
    )

    db: Path = Field(Path("empatia.duckdb"), description="The store: one DuckDB file.")
    host: str = Field("127.0.0.1", description="Address `empatia serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `empatia serve` listens on.")
    languages: tuple[str, ...] = Field(DEFAULT_LANGUAGES, description="Languages texts may be in.")
    max_event_bytes: int = Field(32 * 1024, description="Largest single event (Segment: 32 KB).")
    max_batch_bytes: int = Field(500 * 1024, description="Largest batch body (Segment: 500 KB).")
    max_batch_events: int = Field(2500, description="Most events in one batch request.")
    duckdb_memory_limit: str | None = Field(None, description="DuckDB memory_limit, e.g. '2GB'.")
    duckdb_threads: int | None = Field(None, description="DuckDB threads (default: all cores).")
    reporting_currency: str = Field(
        "EUR",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code that revenue, average order and CLV are reported in; other "
        "currencies convert with the rates of `empatia rates import`.",
    )
    orders_without_currency_in_reporting: bool = Field(
        False,
        description="Take orders without a `currency` to be in the reporting currency "
        "(otherwise they are left out of revenue, and profiles say so).",
    )
    stages: dict[str, Any] = Field(
        default_factory=dict,
        description="Options for the pipeline stages, passed to `empatia run` as they are "
        "(e.g. `[stages.identity]` in empatia.toml; see each stage's config). Retention per "
        'table: `[stages.privacy.retention]` events = "10 years" (empatia.privacy.retention).',
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from pydantic_settings import TomlConfigSettingsSource

        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(**overrides: Any) -> Settings:
    """Build settings, dropping overrides that are ``None`` (unset CLI flags)."""
    from pydantic import ValidationError

    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from e
