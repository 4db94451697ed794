"""The ground truth collected while the world is built, written apart from the events."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


_DAYS: dict[int, str] = {}


def ts(t: float) -> str:
    """ISO-8601 UTC for one epoch time (the per-event path; arrays use ``timeline.iso``)."""
    day, sec = divmod(t, 86_400.0)
    prefix = _DAYS.get(int(day))
    if prefix is None:
        g = time.gmtime(int(day) * 86_400)
        prefix = _DAYS[int(day)] = f"{g.tm_year}-{g.tm_mon:02d}-{g.tm_mday:02d}T"
    s = int(sec)
    ms = int((sec - s) * 1000)
    return f"{prefix}{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{ms:03d}Z"


def phone_variant(e164: str, k: int) -> str:
    """How a phone number gets typed in different systems (all the same number)."""
    cc_len = 1 if e164.startswith("+1") or e164.startswith("+7") else 2
    if e164.startswith(("+353", "+375")):
        cc_len = 3
    cc, rest = e164[1 : 1 + cc_len], e164[1 + cc_len :]
    v = k % 5
    if v == 0:
        return e164
    if v == 1:
        return f"+{cc} {rest[:3]} {rest[3:6]} {rest[6:]}"
    if v == 2:
        return f"00{cc}{rest}"
    if v == 3:
        return f"+{cc}-{rest[:3]}-{rest[3:6]}-{rest[6:]}"
    return f"(+{cc}) {rest}"


@dataclass
class Truth:
    """Rows of truth, appended by the generators; see ``world.write_truth``."""

    identifiers: list[tuple[str, str, int, bool]] = field(default_factory=list)
    texts: list[dict[str, Any]] = field(default_factory=list)
    journeys: list[dict[str, Any]] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)
    person: dict[str, dict[int, Any]] = field(default_factory=dict)

    def identifier(self, kind: str, value: str, person: int, shared: bool = False) -> None:
        self.identifiers.append((kind, value, person, shared))

    def text(self, message_id: str, person: int, lang: str, emotion: str, source: str,
             **extra: Any) -> None:  # fmt: skip
        self.texts.append({"message_id": message_id, "person": person, "language": lang,
                           "emotion": emotion, "source": source, **extra})  # fmt: skip

    def set(self, column: str, person: int, value: Any) -> None:
        self.person.setdefault(column, {})[person] = value
