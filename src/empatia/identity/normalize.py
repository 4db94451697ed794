"""Normalising identifiers so that the same person's ids compare equal.

Emails: trimmed and lower-cased (optionally without ``+tag``). Phones: E.164 with
`phonenumbers`, reading numbers without a country code in the event's market (or the
workspace's default region). Other ids: trimmed; empty means absent.

>>> normalize_email("  Ala.Kot@Example.COM ")
'ala.kot@example.com'
>>> normalize_phone("22 555 12 34", "PL"), normalize_phone("+48 22-555-12-34", "US")
('+48225551234', '+48225551234')
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


def normalize_email(raw: str | None, *, strip_plus: bool = False) -> str | None:
    """The comparable form of an email address, or ``None`` when it is not one."""
    if raw is None:
        return None
    email = raw.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in email):
        return None
    if strip_plus:
        local = local.split("+", 1)[0] or local
    return f"{local}@{domain}"


@lru_cache(maxsize=65536)
def normalize_phone(raw: str | None, region: str | None = None) -> str | None:
    """A phone number in E.164 (``+48225551234``), or ``None`` when it cannot be one."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    region = (region or "").strip().upper() or None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_id(raw: str | None, *, lowercase: bool = False) -> str | None:
    """Any other identifier: trimmed, optionally lower-cased; empty means absent."""
    if raw is None:
        return None
    value = raw.strip()
    if lowercase:
        value = value.lower()
    return value or None
