"""Typed settings, one tree: explicit argument → ``EMPATIA_*`` environment variable →
``empatia.toml`` → defaults.

Each pipeline stage has its own typed section under ``stages`` (``[stages.identity]`` in
empatia.toml, ``EMPATIA_STAGES__IDENTITY__MATCH_THRESHOLD=0.9`` in the environment); an unknown
key anywhere is an error, not a setting quietly ignored. ``empatia config show`` prints every
effective value and where it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from empatia.care.config import CareSettings
from empatia.decide.catalogue import DecideSettings
from empatia.emotion.config import EmotionSettings
from empatia.errors import ConfigError
from empatia.experience.config import ExperienceConfig
from empatia.identity.config import IdentityConfig
from empatia.journeys.config import JourneysSettings
from empatia.privacy.config import PrivacySettings
from empatia.profiles.config import ProfileConfig

DEFAULT_LANGUAGES = ("en", "pl", "ru", "fa", "de", "es", "fr")


class StagesSettings(BaseModel):
    """One typed section per pipeline stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    profiles: ProfileConfig = Field(default_factory=ProfileConfig)
    emotion: EmotionSettings = Field(default_factory=EmotionSettings)
    experience: ExperienceConfig = Field(default_factory=ExperienceConfig)
    journeys: JourneysSettings = Field(default_factory=JourneysSettings)
    care: CareSettings = Field(default_factory=CareSettings)
    decide: DecideSettings = Field(default_factory=DecideSettings)

    def merged(self, changes: Mapping[str, Any] | None) -> StagesSettings:
        """These settings with ``changes`` (same shape, e.g. ``{"decide": {"export": p}}``)
        applied on top; what was set explicitly stays marked as set."""
        if not changes:
            return self
        try:
            return StagesSettings(**deep_merge(self.model_dump(exclude_unset=True), changes))
        except ValidationError as e:
            raise ConfigError(f"invalid stage settings: {_problems(e, 'stages')}") from e


class StoreSettings(BaseModel):
    """Where the data lives (``[store]`` in empatia.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["duckdb", "lake"] = Field(
        "duckdb",
        description='"duckdb": everything in the one file `db` (the default); "lake": the event '
        "log and the stage outputs also in Delta Lake tables under `uri`, which Spark's "
        "executors read and write themselves (the `lake` extra).",
    )
    uri: str | None = Field(
        None, description='The lake\'s folder (store.kind = "lake"): one every machine sees.'
    )


class SparkSettings(BaseModel):
    """Where ``empatia run --engine spark`` runs (``[spark]`` in empatia.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    master: str | None = Field(
        None,
        description="Spark master URL (`local[2]`, `spark://host:7077`, `yarn`, `k8s://…`); "
        "unset: the one `spark-submit --master` gave, else local[2].",
    )
    remote: str | None = Field(
        None,
        description="Spark Connect URL (`sc://host:15002`) to run on instead of a master "
        "(the SPARK_REMOTE environment variable does the same).",
    )
    shuffle_partitions: int | None = Field(
        None,
        ge=1,
        description="spark.sql.shuffle.partitions; unset: 4 on a local master, Spark's own "
        "(adaptively coalesced) on a cluster.",
    )
    conf: dict[str, str] = Field(
        default_factory=dict,
        description='Spark settings passed as they are: `[spark.conf]` "spark.executor.memory" '
        '= "4g" (`empatia run --conf KEY=VALUE` adds to them).',
    )


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` on top, tables merged key by key (settings layers, weights files)."""
    out = dict(base)
    for k, v in over.items():
        both = isinstance(v, Mapping) and isinstance(out.get(k), Mapping)
        out[k] = deep_merge(out[k], v) if both else v
    return out


def _problems(e: ValidationError, prefix: str = "") -> str:
    return "; ".join(
        ".".join(str(p) for p in ([prefix] if prefix else []) + list(err["loc"]))
        + f": {err['msg']}"
        for err in e.errors()
    )


class Settings(BaseSettings):
    """Everything configurable about one Empatia workspace.

    >>> Settings(db="/tmp/x.duckdb").db.name
    'x.duckdb'
    """

    model_config = SettingsConfigDict(
        env_prefix="EMPATIA_",
        env_nested_delimiter="__",
        toml_file="empatia.toml",
        extra="forbid",
        frozen=True,
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
    store: StoreSettings = Field(
        default_factory=StoreSettings, description="Where the data lives."
    )
    spark: SparkSettings = Field(
        default_factory=SparkSettings, description="Where `empatia run --engine spark` runs."
    )
    stages: StagesSettings = Field(
        default_factory=StagesSettings,
        description="One section per pipeline stage: `[stages.identity]`, `[stages.care.risk]` … "
        'in empatia.toml; retention per table: `[stages.privacy.retention]` events = "10 years".',
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
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as e:
        raise ConfigError(f"invalid settings: {_problems(e)}") from e


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}


def effective_settings(**overrides: Any) -> list[tuple[str, Any, str]]:
    """Every effective setting as ``(key, value, source)``, the source being ``argument``,
    ``environment`` (``EMPATIA_…``), ``empatia.toml`` or ``default`` (``empatia config show``).

    >>> row = dict((k, s) for k, _, s in effective_settings(port=9000))
    >>> row["port"], row["stages.identity.match_threshold"]
    ('argument', 'default')
    """
    from pydantic_settings import EnvSettingsSource, TomlConfigSettingsSource

    settings = load_settings(**overrides)
    layers = [
        ("argument", _flat({k: v for k, v in overrides.items() if v is not None})),
        ("environment", _flat(EnvSettingsSource(Settings)())),
        ("empatia.toml", _flat(TomlConfigSettingsSource(Settings)())),
    ]

    def source(key: str) -> str:
        for name, flat in layers:
            if any(k == key or key.startswith(k + ".") for k in flat):
                return name
        return "default"

    return [(k, v, source(k)) for k, v in _flat(settings.model_dump(mode="json")).items()]
