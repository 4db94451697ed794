"""A person's identifiers in the forms identity compares them in — for finding a subject,
keeping tombstones and recognising an erased person who comes back under another id.

``canonical`` is the one form a lookup uses (the form the ``identities`` table holds);
``forms`` adds the variants a returning person may show (any case, ``+tag`` e-mails, a phone
written with ``00`` instead of ``+``), so a tombstone kept for every form catches them all.

>>> canonical("email", " Ala@Example.COM "), canonical("phone", "0048 601-234-567")
('ala@example.com', '+48601234567')
>>> canonical("phone", "x") is None, canonical("user_id", "  ")
(True, None)
>>> sorted(forms("loyalty_id", "LOY-77"))
['LOY-77', 'loy-77']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from empatia.identity.extract import ID_PATHS, MARKET_PATHS
from empatia.identity.normalize import normalize_email, normalize_phone

#: Every identifier kind a subject can be named by (``kind:value``).
KINDS = ("user_id", "anonymous_id", "email", "phone", "device_id", "loyalty_id", "crm_id")
_PATH_KEYS = {k: [tuple(p[2:].split(".")) for p in paths] for k, paths in ID_PATHS.items()}
_MARKET_KEYS = [tuple(p[2:].split(".")) for p in MARKET_PATHS]


@lru_cache(maxsize=1)
def _default_region() -> str:
    from empatia.identity.config import IdentityConfig

    return IdentityConfig().default_region


def _phones(raw: str, region: str | None) -> list[str]:
    """E.164 readings of ``raw``: in the event's market, the workspace's region, or with a
    ``00`` international prefix read as ``+``."""
    texts = [raw]
    digits = re.sub(r"[^\d+]", "", raw)
    if digits.startswith("00"):
        texts.append("+" + digits[2:])
    out: list[str] = []
    for text in texts:
        for reg in (region, _default_region()):
            p = normalize_phone(text, reg)
            if p and p not in out:
                out.append(p)
    return out


def canonical(kind: str, value: str | None, region: str | None = None) -> str | None:
    """The form ``identities`` keeps for ``value`` of ``kind``; None when it cannot be one."""
    if value is None or not value.strip():
        return None
    if kind == "email":
        return normalize_email(value)
    if kind == "phone":
        phones = _phones(value, region)
        return phones[0] if phones else None
    return value.strip()


def forms(kind: str, value: str | None, region: str | None = None) -> set[str]:
    """Every form of one identifier that must count as the same person's."""
    if value is None or not value.strip():
        return set()
    if kind == "email":
        return {e for e in (normalize_email(value), normalize_email(value, strip_plus=True)) if e}
    if kind == "phone":
        return set(_phones(value, region))
    v = value.strip()
    return {v, v.lower()}


def _get(data: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    cur: Any = data
    for k in keys:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(k)
    if cur is None or isinstance(cur, (dict, list)):
        return None
    return str(cur)


def of_event(
    event: Mapping[str, Any], user_id: str | None = None, anonymous_id: str | None = None,
    previous_id: str | None = None, *, every_form: bool = True,
) -> set[tuple[str, str]]:  # fmt: skip
    """Every ``(kind, form)`` an event carries, where the tracking plan places identifiers
    (only the :func:`canonical` form of each unless ``every_form``).

    >>> sorted(of_event({"traits": {"email": "Ala@X.pl"}}, "U1", every_form=False))
    [('email', 'ala@x.pl'), ('user_id', 'U1')]
    """
    region = next((r for r in (_get(event, k) for k in _MARKET_KEYS) if r), None)

    def each(kind: str, value: str | None, reg: str | None = None) -> set[str]:
        if every_form:
            return forms(kind, value, reg)
        one = canonical(kind, value, reg)
        return {one} if one else set()

    out: set[tuple[str, str]] = set()
    ids = [("user_id", user_id), ("anonymous_id", anonymous_id)]
    if every_form:  # an alias's previousId is an earlier anonymousId or userId
        ids += [("user_id", previous_id), ("anonymous_id", previous_id)]
    for kind, value in ids:
        out |= {(kind, f) for f in each(kind, value)}
    for kind, paths in _PATH_KEYS.items():
        for keys in paths:
            out |= {(kind, f) for f in each(kind, _get(event, keys), region)}
    return out


def all_forms(identifiers: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """``identifiers`` with every form of each."""
    return {(k, f) for k, v in identifiers for f in forms(k, v) | {v}}
