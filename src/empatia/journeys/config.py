"""The mapping of events to journey stages: shipped defaults, then the workspace's own edits.

>>> m = StageMap.default()
>>> m.stage_of("Order Completed"), m.stage_of("page:Help"), m.stage_of("Something Else")
('buy', 'get help', None)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from empatia.errors import ConfigError

STAGE_ORDER: tuple[str, ...] = (
    "discover", "consider", "buy", "receive", "use", "get help", "return", "leave",
)  # fmt: skip


class JourneysSettings(BaseModel):
    """The ``[stages.journeys]`` section of the workspace settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage_map_file: Path | None = Field(
        None,
        description="A TOML file mapping events to journey stages (see the shipped stages.toml), "
        "applied over the defaults and the workspace's `journeys stages set` edits.",
    )


@dataclass
class StageMap:
    """Event name (or ``page:*`` prefix pattern) → stage, and the stages' order."""

    mapping: dict[str, str] = field(default_factory=dict)
    order: tuple[str, ...] = STAGE_ORDER

    @classmethod
    def default(cls) -> StageMap:
        text = resources.files("empatia.journeys").joinpath("stages.toml").read_text()
        return cls.from_toml(tomllib.loads(text))

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> StageMap:
        order = tuple(data.get("order", STAGE_ORDER))
        m = cls(dict(data.get("map", {})), order)
        m.validate()
        return m

    def validate(self) -> None:
        bad = {k: v for k, v in self.mapping.items() if v not in self.order}
        if bad:
            raise ConfigError(
                f"unknown journey stage(s) {sorted(set(bad.values()))} for {sorted(bad)}; "
                f"use one of {', '.join(self.order)}",
                stages=sorted(set(bad.values())),
            )

    def merged(self, overrides: dict[str, str]) -> StageMap:
        m = StageMap({**self.mapping, **overrides}, self.order)
        m.validate()
        return m

    def exact(self) -> dict[str, str]:
        return {k: v for k, v in self.mapping.items() if not k.endswith("*")}

    def prefixes(self) -> list[tuple[str, str]]:
        """Prefix patterns, longest first."""
        pre = [(k[:-1], v) for k, v in self.mapping.items() if k.endswith("*")]
        return sorted(pre, key=lambda kv: -len(kv[0]))

    def stage_of(self, step: str) -> str | None:
        if step in self.mapping:
            return self.mapping[step]
        for prefix, stage in self.prefixes():
            if step.startswith(prefix):
                return stage
        return None

    def rank(self, stage: str) -> int:
        return self.order.index(stage)


def load_stage_map(con: Any | None = None, path: str | Path | None = None) -> StageMap:
    """Defaults ← the workspace's ``journey_stage_map`` rows ← the TOML file at ``path``
    (``[stages.journeys] stage_map_file``)."""
    m = StageMap.default()
    if con is not None:
        try:
            rows = con.execute("select pattern, stage from journey_stage_map").fetchall()
        except Exception:  # noqa: BLE001 - table missing on an old store
            rows = []
        m = m.merged({p: s for p, s in rows})
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read the stage map {path}: {e}", path=str(path)) from e
        m = m.merged(StageMap.from_toml({"order": m.order, **data}).mapping)
    return m
