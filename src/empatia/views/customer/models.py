"""The customer 360's typed sections: what :func:`~empatia.views.customer.customer_360` returns.

Plain dataclasses, so the web page draws them, ``GET /v1/customers/{id}`` answers them as
JSON and a notebook uses them as they are. What a viewer may not see is already left out
of them (:mod:`empatia.views.customer.viewer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from empatia.privacy.consent import ConsentState
from empatia.views.sections import Section

#: Most events read for one person (the newest); a timeline longer than that is cut, and says so.
MAX_EVENTS = 3000
#: Rows of the contact timeline on one page; older ones are an
#: :func:`~empatia.views.customer.older_contacts` call away.
TIMELINE_ROWS = 150


@dataclass
class Cursor:
    """Where a page of older contacts starts: after the event ``(before, seq)``."""

    before: datetime
    seq: int


@dataclass
class Words:
    """A customer's own words on a contact, with the emotion stage's reading of them.
    ``text`` is ``None`` for a viewer who may not read words."""

    text: str | None
    pending: bool  # written, not analysed yet
    score: float | None = None
    sentiment: str | None = None
    dominant_emotion: str | None = None
    language: str | None = None


@dataclass
class TimelineRow:
    """A contact, or a day's browsing on one channel folded into one row."""

    timestamp: datetime | None
    channel: str
    title: str
    detail: str
    browse: bool
    seq: int
    words: Words | None = None


@dataclass
class Order:
    order_id: Any
    at: datetime | None
    channel: str
    total: float | None
    currency: Any
    invalid_total: str | None  # what the shop sent, when it is not a number
    quantity: int
    categories: list[str]
    after: list[str]  # what happened to it later: delivered, returned …


@dataclass
class Welcome:
    """Who they are to us: tenure, rhythm, money, and the chance they are still active (the
    experience stage's when it has run — the purchase rhythm moved by what they said and went
    through — beside the purchase model's ``p_alive``)."""

    first_seen: datetime | None = None
    last_seen: datetime | None = None
    as_of: datetime | None = None
    tenure_days: float | None = None
    since_last_days: float | None = None
    channels: list[str] = field(default_factory=list)
    preferred_channel: str | None = None
    preferred_hour: int | None = None
    orders: int | None = None
    revenue: float | None = None
    currency: str | None = None
    revenue_by_currency: dict[str, float] | None = None
    revenue_note: str | None = None
    rates_from: date | None = None
    rates_to: date | None = None
    avg_order_value: float | None = None
    rfm: str | None = None
    clv_12m: float | None = None
    next_purchase_at: datetime | None = None
    next_purchase_forecast: datetime | None = None
    p_alive: float | None = None
    p_active: float | None = None
    active_driver: str | None = None
    last_event_at: datetime | None = None


@dataclass
class Identifier:
    kind: str
    shown: str  # the value, masked unless the viewer may see contact details


@dataclass
class Merge:
    merged_at: datetime
    action: str
    person_id: str
    other_person_id: str
    identifiers: int | None
    reason: str | None
    evidence: str | None  # None unless the viewer may see contact details


@dataclass
class Identity:
    identifiers: list[Identifier]
    merges: list[Merge]  # the newest 20
    kinds: dict[str, int]


@dataclass
class TextScore:
    """The emotion stage's reading of one text (never the text itself)."""

    seq: int
    timestamp: datetime | None
    channel: str | None
    language: str | None
    sentiment: str | None
    score: float | None
    dominant_emotion: str | None
    effort: list[Any]
    escalation: list[Any]
    n_effort: int | None
    n_escalation: int | None


@dataclass
class Trajectory:
    texts: int | None
    first_at: datetime | None
    last_at: datetime | None
    average: float | None
    recent: float | None
    trend_per_30d: float | None
    lowest: float | None
    lowest_at: datetime | None
    latest: float | None
    latest_emotion: str | None
    direction: str | None


@dataclass
class Emotion:
    points: list[TextScore]  # oldest first
    summary: Trajectory | None
    pending: str | None  # texts not analysed yet, in words


@dataclass
class Journey:
    case_id: str
    topic: str | None
    first_at: datetime | None
    last_at: datetime | None
    contacts: int | None
    steps: int | None
    channel_path: str | None
    transfers: int | None
    wait_seconds: float | None
    resolved: bool | None
    resolution: str | None
    internal_success: bool | None
    effort_score: float | None
    succeeded_but_hurt: bool | None
    hurt_reasons: str | None
    unresolved_age_days: float | None
    resolution_days: float | None
    last_score: float | None


@dataclass
class Service:
    open: list[Journey]
    recent: list[Journey]  # the three latest resolved


@dataclass
class Decision:
    """The next best action, with the reason and the products by name."""

    action: str
    kind: str
    channel: str | None
    items: list[str] | None
    reason: str
    policy: Any
    fallback: bool
    expires_at: datetime
    decided_at: datetime
    item_names: list[str]


@dataclass
class CareListing:
    rank: int
    score: float
    influence: float
    risk: float
    value: float
    explanation: str
    status: str
    alert_id: str | None
    computed_at: datetime


@dataclass
class CareAlert:
    alert_id: str
    kind: str
    status: str
    score: float
    explanation: str
    created_at: datetime


@dataclass
class Care:
    listed: CareListing | None
    alert: CareAlert | None  # the latest


@dataclass
class Customer360:
    """Everything the customer page shows, section by section."""

    person_id: str
    name: str
    profile: dict[str, Any] | None  # the profiles row, contact columns masked per viewer
    welcome: Section[Welcome]
    consent: Section[list[ConsentState]]
    purchases: Section[list[Order]]  # newest first
    timeline: Section[list[TimelineRow]]  # the newest TIMELINE_ROWS rows
    older: Cursor | None  # where the older contacts start; None when there are none
    events_shown: int
    events_cut: bool  # more than MAX_EVENTS events: purchases and rows are of the newest
    pending_texts: int
    emotion: Section[Emotion]
    identity: Section[Identity]
    service: Section[Service]
    decision: Section[Decision]
    care: Section[Care]
    rows_shown: int = TIMELINE_ROWS


@dataclass
class ContactsPage:
    """One page of a person's older contacts."""

    person_id: str
    name: str
    before: Cursor | None
    timeline: Section[list[TimelineRow]]
    older: Cursor | None
    rows_shown: int = TIMELINE_ROWS
