"""What a reader may see of a person, and leaving out the rest.

What a :class:`Viewer` may not see is left out of the data itself, not hidden by a template:
contact details are masked (``a•••@example.com``) and the customer's own words dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from empatia.views.customer.models import TimelineRow, Words

if TYPE_CHECKING:
    from empatia.privacy.keys import ApiKey

#: Profile columns that are contact details (masked like the identifiers of the same kind).
CONTACT_COLUMNS = ("email", "phone", "user_id")


@dataclass(frozen=True)
class Viewer:
    """What the reader may see of a person: contact details (emails, phones, merge evidence)
    and the customer's own words. Nothing personal by default.

    >>> Viewer(), Viewer.everything().words
    (Viewer(contact_details=False, words=False), True)
    """

    contact_details: bool = False
    words: bool = False

    @classmethod
    def for_key(cls, key: ApiKey) -> Viewer:
        """Admin keys see everything; read and care keys neither contact details nor words."""
        admin = key.scope == "admin"
        return cls(contact_details=admin, words=admin)

    @classmethod
    def everything(cls) -> Viewer:
        """For the operator at the console (``empatia`` on the store itself)."""
        return cls(contact_details=True, words=True)


def mask(kind: str, value: str) -> str:
    """Contact details for viewers not allowed to see them: ``a•••@x.com``, ``+48•••123``.

    Other identifiers are shown, except contact details inside them (some sources build
    anonymous ids from an email or a phone number).

    >>> mask("email", "anna.nowak@example.com"), mask("phone", "+48600100200"), mask("user_id", "U1")
    ('a•••@example.com', '+48•••200', 'U1')
    >>> mask("anonymous_id", "mail:anna.nowak@example.com")
    'mail:[email]'
    """
    if kind == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}•••@{domain}"
    if kind == "phone" and len(value) > 6:
        return f"{value[:3]}•••{value[-3:]}"
    from empatia.privacy.redact import redact

    return cast(str, redact(value))  # a str in, a str out


def masked(profile: dict[str, Any] | None, viewer: Viewer) -> dict[str, Any] | None:
    """The profiles row with its contact columns masked, unless the viewer may see them.

    >>> masked({"email": "ada@example.com", "market": "PL"}, Viewer())
    {'email': 'a•••@example.com', 'market': 'PL'}
    """
    if profile is None or viewer.contact_details:
        return profile
    return {k: mask(k, v) if k in CONTACT_COLUMNS and isinstance(v, str) else v
            for k, v in profile.items()}  # fmt: skip


def timeline_row(r: dict[str, Any], viewer: Viewer) -> TimelineRow:
    """A built timeline row, typed, the words dropped unless the viewer may read them."""
    w = r.get("words")
    words = None
    if w:
        words = Words(text=w["text"] if viewer.words else None, pending=w["pending"],
                      score=w.get("score"), sentiment=w.get("sentiment"),
                      dominant_emotion=w.get("dominant_emotion"), language=w.get("language"))  # fmt: skip
    return TimelineRow(r["timestamp"], r["channel"], str(r["title"]), r["detail"], r["browse"],
                       r["seq"], words)  # fmt: skip
