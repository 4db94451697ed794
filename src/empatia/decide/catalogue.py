"""The action catalogue: what Empatia may do for a person, read from ``actions.toml``.

The file shipped in the package is the default; a workspace may point at its own
(``[stages.decide] actions_file``, :class:`DecideSettings`).

>>> cat = load_catalogue()
>>> cat.action("do_nothing").kind
'nothing'
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from empatia.errors import ConfigError

KINDS = ("offer", "coupon", "recovery", "survey", "question", "human", "nothing")
PURPOSES = ("marketing", "service", "profiling", "none")
CHANNELS = ("email", "sms", "push", "web", "app", "store", "call")
#: Outbound channels and the consent purpose a marketing message on them needs. On-site
#: channels (web, app, store) show something while the person is there: no marketing consent,
#: only personalisation for a personal pick.
CHANNEL_PURPOSE = {"email": "marketing_email", "sms": "marketing_sms", "push": "marketing_push"}
OUTBOUND = ("email", "sms", "push", "call")


@dataclass(frozen=True)
class Action:
    id: str
    kind: str
    purpose: str
    channels: tuple[str, ...]
    cost: float = 0.0
    expiry_hours: float = 24.0
    priority: int = 0
    description: str = ""
    rules: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyConfig:
    """The ``[policy]`` table of the catalogue; its defaults are the shipped actions.toml's
    (kept there once, with what each number means): a catalogue may set only some."""

    fatigue_days: float
    max_contacts: int
    max_per_channel: dict[str, int]
    suppress_same_item_days: float
    quiet_after_purchase_hours: float
    angry_threshold: float
    negative_threshold: float
    mood_days: float
    hurt_days: float
    survey_gap_days: float


@dataclass(frozen=True)
class Catalogue:
    actions: tuple[Action, ...]
    policy: PolicyConfig

    def action(self, action_id: str) -> Action:
        for a in self.actions:
            if a.id == action_id:
                return a
        raise ConfigError(
            f"unknown action {action_id!r}; known: {', '.join(a.id for a in self.actions)}",
            action=action_id,
        )

    def of_kind(self, *kinds: str) -> list[Action]:
        """Actions of these kinds, highest priority first (cached: asked for every person)."""
        cache: dict[tuple[str, ...], list[Action]] = self.__dict__.setdefault("_by_kind", {})
        if kinds not in cache:
            cache[kinds] = sorted((a for a in self.actions if a.kind in kinds),
                                  key=lambda a: -a.priority)
        return cache[kinds]


_KNOWN = {"id", "kind", "purpose", "channels", "cost", "expiry_hours", "priority", "description"}


def parse_catalogue(data: dict[str, Any], source: str = "actions.toml") -> Catalogue:
    actions = []
    for raw in data.get("action", []):
        aid = raw.get("id")
        if not aid:
            raise ConfigError(f"{source}: an [[action]] has no id", source=source)
        if raw.get("kind") not in KINDS:
            raise ConfigError(f"{source}: action {aid!r} has kind {raw.get('kind')!r}; "
                              f"valid: {', '.join(KINDS)}", source=source, action=aid)
        if raw.get("purpose", "none") not in PURPOSES:
            raise ConfigError(f"{source}: action {aid!r} has purpose {raw.get('purpose')!r}; "
                              f"valid: {', '.join(PURPOSES)}", source=source, action=aid)
        bad = [c for c in raw.get("channels", []) if c not in CHANNELS]
        if bad:
            raise ConfigError(f"{source}: action {aid!r} has channel(s) {bad}; "
                              f"valid: {', '.join(CHANNELS)}", source=source, action=aid)
        actions.append(Action(
            id=aid, kind=raw["kind"], purpose=raw.get("purpose", "none"),
            channels=tuple(raw.get("channels", [])), cost=float(raw.get("cost", 0.0)),
            expiry_hours=float(raw.get("expiry_hours", 24)), priority=int(raw.get("priority", 0)),
            description=raw.get("description", ""),
            rules={k: v for k, v in raw.items() if k not in _KNOWN},
        ))
    if not any(a.kind == "nothing" for a in actions):
        raise ConfigError(f"{source}: the catalogue needs a 'nothing' action (do nothing)",
                          source=source)
    return Catalogue(tuple(actions), _policy(data.get("policy", {}), source))


def _shipped_text() -> str:
    return resources.files("empatia.decide").joinpath("actions.toml").read_text()


@lru_cache(maxsize=1)
def _shipped_policy() -> dict[str, Any]:
    return dict(tomllib.loads(_shipped_text()).get("policy", {}))


def _policy(raw: dict[str, Any], source: str) -> PolicyConfig:
    """The shipped ``[policy]`` with this catalogue's values on top; unknown keys are errors."""
    known = {f.name for f in fields(PolicyConfig)}
    bad = sorted(set(raw) - known)
    if bad:
        raise ConfigError(f"{source}: unknown [policy] setting(s) {', '.join(bad)}; known: "
                          f"{', '.join(sorted(known))}", source=source)  # fmt: skip
    return PolicyConfig(**{**_shipped_policy(), **raw})


class DecideSettings(BaseModel):
    """The ``[stages.decide]`` section of the workspace settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions_file: Path | None = Field(
        None, description="The action catalogue (TOML, the shape of the shipped actions.toml)."
    )
    export: Path | None = Field(None, description="Also write the decisions here (.parquet, .csv).")
    retrain_days: float = Field(7, gt=0, description="Retrain the model when it is this old …")
    retrain_orders: int = Field(2_000, ge=1, description="… or after this many new orders.")
    refresh_max: int = Field(
        20_000, ge=0, description="More changed people than this: decide for everyone again."
    )
    fit_people: int = Field(
        100_000,
        ge=1,
        description="The recommender learns what is shared (item-to-item weights, item "
        "factors, popularity) from at most this many buyers — the same ones every run and on "
        "every engine (the lowest SHA-256 of their person id) — so that what the fit holds "
        "in one process (one executor's Python worker on Spark) does not grow with the data; "
        "everyone is scored from their own purchases, where their rows are.",
    )


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue at ``path`` (``[stages.decide] actions_file``), else the shipped one."""
    if path:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"no action catalogue at {p}", path=str(p))
        text, source = p.read_text(), str(p)
    else:
        text = _shipped_text()
        source = "actions.toml (shipped)"
    return parse_catalogue_text(text, source)


def parse_catalogue_text(text: str, source: str) -> Catalogue:
    """A catalogue from its TOML text (``source`` names it in messages)."""
    try:
        return parse_catalogue(tomllib.loads(text), source)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: {e}", source=source) from e
