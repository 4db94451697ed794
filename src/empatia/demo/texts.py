"""Compose customers' own words from per-language phrase material.

A text is built from parts — an opening, what it is about, one or two sentences carrying the
intended emotion, effort statements with numbers ("I called five times", "waited two
hours"), sometimes a threat to leave or go public, a closing — each drawn from varied
material, so no emotion is one fixed template. ``{m|f}`` in the material picks the speaker's
grammatical gender.

>>> c = Composer(seed=1)
>>> text = c.compose("en", "anger", "delivery", gender=0, times=5)
>>> "five times" in text
True
"""

from __future__ import annotations

import random
import re
from importlib import import_module
from typing import Any

LANGUAGES = ("en", "pl", "ru", "fa", "de", "es", "fr")
EMOTIONS = (
    "joy", "gratitude", "surprise", "neutral", "fear", "sadness", "disappointment", "frustration",
    "anger",
)  # fmt: skip
SENTIMENT = {
    "joy": "positive", "gratitude": "positive", "surprise": "positive", "neutral": "neutral",
    "fear": "negative", "sadness": "negative", "disappointment": "negative",
    "frustration": "negative", "anger": "negative",
}  # fmt: skip
_POLARITY = {"positive": "pos", "negative": "neg", "neutral": "neu"}
_GENDER = re.compile(r"\{([^|{}]*)\|([^|{}]*)\}")


def _gendered(value: Any, g: int) -> Any:
    if isinstance(value, str):
        return _GENDER.sub(lambda m: m.group(g + 1), value)
    if isinstance(value, list):
        return [_gendered(v, g) for v in value]
    if isinstance(value, tuple):
        return tuple(_gendered(v, g) for v in value)
    if isinstance(value, dict):
        return {k: _gendered(v, g) for k, v in value.items()}
    return value


def _load() -> dict[str, list[dict[str, Any]]]:
    out = {}
    for lang in LANGUAGES:
        raw = import_module(f"empatia.demo.phrases.{lang}").PHRASES
        out[lang] = [_gendered(raw, 0), _gendered(raw, 1)]
    return out


class Composer:
    """Writes texts in any of :data:`LANGUAGES` carrying a chosen emotion."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.material = _load()

    def compose(
        self,
        lang: str,
        emotion: str,
        topic: str = "general",
        *,
        gender: int = 0,
        kind: str = "message",
        times: int | None = None,
        wait_minutes: int | None = None,
        threat: bool = False,
        public_threat: int | None = None,
        channel: str | None = None,
    ) -> str:
        """One text. ``kind`` is message, review, survey or call; ``times``/``wait_minutes``
        add effort statements; ``public_threat`` (followers) adds a threat to go public;
        ``channel`` (phone, chat, …) leaves out effort statements about another channel."""
        r = self.rng
        m = self.material[lang][gender]
        pol = _POLARITY[SENTIMENT[emotion]]
        short = kind == "survey"
        parts: list[str] = [""]
        if not short and r.random() < (0.6 if kind in ("message", "call") else 0.2):
            parts[0] = r.choice(m["open"][pol])
        body: list[str] = []
        if topic != "general" or r.random() < 0.3:
            if r.random() < (0.35 if short else 0.85):
                body.append(r.choice(m["topic"].get(topic) or m["topic"]["general"]))
        feel = m["emotion"][emotion]
        n = 1 if short or r.random() < 0.55 else 2
        said = r.sample(feel, min(n, len(feel)))
        if emotion in ("anger", "joy", "surprise") and r.random() < 0.5:
            body = said + body
        else:
            body = body + said
        parts += body
        effort = [
            e.split(" ", 1)[1] if e.startswith("@") else e
            for e in m["effort"]
            if not e.startswith("@") or channel is None or e.startswith(f"@{channel} ")
        ]
        if pol == "neg":
            if times is not None:
                keys = sorted(m["times"])
                k = min(keys, key=lambda x: abs(x - times))
                tpl = r.choice([t for t in effort if "{times}" in t])
                parts.append(tpl.replace("{times}", m["times"][k]))
            if wait_minutes is not None and any("{dur}" in t for t in effort):
                d = min(m["durations"], key=lambda x: abs(x[0] - wait_minutes))[1]
                tpl = r.choice([t for t in effort if "{dur}" in t])
                parts.append(tpl.replace("{dur}", d))
            if threat:
                parts.append(r.choice(m["threat"]))
            if public_threat:
                parts.append(
                    r.choice(m["threat_public"]).replace("{followers}", f"{public_threat:,}")
                )
        elif pol == "pos" and times == 1 and r.random() < 0.6:
            parts.append(r.choice(m["effort_pos"]))
        if not short and r.random() < 0.5:
            parts.append(r.choice(m["close"][pol]))
        text = " ".join(p for p in parts[1:] if p)
        if not parts:
            return text
        first = parts[0]
        return f"{first}\n{text}" if first.endswith((",", ":", "،")) else f"{first} {text}".strip()
