"""The customer 360 as data: who this is, what they bought, every contact and how they feel.

:func:`customer_360` reads one person's events in one pass (``event_persons`` → ``events``)
plus point lookups in the stages' tables, and returns a :class:`Customer360` of typed
sections. Each section is ``ok`` with its data, or says plainly which stage has not run yet;
one failing section never takes the others down. The web page and ``GET /v1/customers/{id}``
are thin faces over it, so both show the same thing under the same rules.

What a :class:`Viewer` may not see is left out here, not hidden by a template: contact
details are masked (``a•••@example.com``) and the customer's own words dropped.

>>> from empatia.workspace import Workspace
>>> with Workspace(db=":memory:") as ws:
...     customer_360(ws, "p_nobody")
Traceback (most recent call last):
...
empatia.errors.NotFoundError: no person p_nobody in this workspace; find people by any identifier with `empatia profile ID`
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import duckdb
import orjson

from empatia.decide.api import item_names
from empatia.errors import NotFoundError
from empatia.privacy.consent import ConsentState, current
from empatia.views.person_index import index_for
from empatia.views.sections import Section, Tables, guarded, one, records
from empatia.views.timeline import build_timeline, older_cursor, purchases

if TYPE_CHECKING:
    from empatia.privacy.keys import ApiKey
    from empatia.store import Store
    from empatia.workspace import Workspace

__all__ = ["MAX_EVENTS", "TIMELINE_ROWS", "ContactsPage", "Cursor", "Customer360", "Viewer",
           "customer_360", "older_contacts", "mask"]  # fmt: skip

#: Most events read for one person (the newest); a timeline longer than that is cut, and says so.
MAX_EVENTS = 3000
#: Rows of the contact timeline on one page; older ones are a :func:`older_contacts` call away.
TIMELINE_ROWS = 150
#: Profile columns that are contact details (masked like the identifiers of the same kind).
CONTACT_COLUMNS = ("email", "phone", "user_id")
R = TypeVar("R")


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


# -- the data ---------------------------------------------------------------------------------
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


# -- reading it -------------------------------------------------------------------------------
def customer_360(store: Store | Workspace, person_id: str, *, viewer: Viewer = Viewer(),
                 executor: Executor | None = None) -> Customer360:  # fmt: skip
    """One person's page as data; :class:`~empatia.errors.NotFoundError` when the store knows
    nothing of ``person_id``.

    ``executor`` (the server's lookup pool) runs the lookups side by side — DuckDB releases the
    GIL while it scans; without one they run one after another.
    """
    st = _store(store)
    t = Tables(st.cursor())  # its cursor stays open for the rare emptiness checks
    try:
        return _gather(st, t, person_id, viewer, executor or _Inline())
    finally:
        t.con.close()


def _gather(st: Store, t: Tables, pid: str, viewer: Viewer, pool: Executor) -> Customer360:
    """The lookups on ``pool``; what needs their results (the timeline, welcome, emotion) here."""

    def section(name: str, fn: Callable[..., Section[Any]], *args: Any) -> Future[Section[Any]]:
        return pool.submit(lambda: guarded(name, lambda: _on_cursor(st, fn, t, pid, *args)))

    f_events = pool.submit(_on_cursor, st, _events_and_texts, t, pid, st)
    f_profile = pool.submit(_on_cursor, st, _row_of, t, "profiles", "*", pid)
    f_active = pool.submit(_on_cursor, st, _row_of, t, "experience_activity",
                           "p_active, driver, drivers", pid)  # fmt: skip
    later = {"identity": section("identity", _identity, viewer),
             "service": section("service", _service), "decision": section("decision", _decision),
             "care": section("care", _care), "trajectory": section("trajectory", _trajectory)}  # fmt: skip
    events, texts = f_events.result()
    profile, active = f_profile.result(), f_active.result()
    timeline = guarded("timeline", lambda: build_timeline(events, texts))
    rows: list[dict[str, Any]] = (timeline.data or []) if timeline.ok else []
    pending = sum(1 for r in rows if (r.get("words") or {}).get("pending"))
    done = {k: f.result() for k, f in later.items()}
    summary = done["trajectory"]
    identity: Section[Identity] = done["identity"]
    if not (profile or events or (identity.data and identity.data.identifiers)):
        raise NotFoundError(f"no person {pid} in this workspace; find people by any identifier"
                            " with `empatia profile ID`", person_id=pid)  # fmt: skip
    return Customer360(
        person_id=pid, name=display_name(profile, pid), profile=_masked(profile, viewer),
        welcome=guarded("welcome", lambda: _welcome(t, profile, events, active)),
        consent=guarded("consent", lambda: _consent(st, t, pid)),
        purchases=guarded("purchases", lambda: [Order(**o) for o in purchases(events)]),
        timeline=_page(timeline, viewer), older=_cursor(older_cursor(
            events, rows, TIMELINE_ROWS, len(events) >= MAX_EVENTS)),
        events_shown=len(events), events_cut=len(events) >= MAX_EVENTS, pending_texts=pending,
        emotion=guarded("emotion", lambda: _emotion(t, texts, summary.data if summary.ok else None,
                                                    pending)),
        identity=identity, service=done["service"], decision=done["decision"], care=done["care"],
    )  # fmt: skip


def older_contacts(store: Store | Workspace, person_id: str, before: Cursor | None = None, *,
                   viewer: Viewer = Viewer()) -> ContactsPage:  # fmt: skip
    """A page of the person's contacts older than ``before`` (from the newest without it);
    :class:`~empatia.errors.NotFoundError` when, asked from the newest, there is nobody.
    A ``before`` without a time zone is UTC."""
    if before is not None and before.before.tzinfo is None:
        before = Cursor(before.before.replace(tzinfo=UTC), before.seq)
    cur = _store(store).cursor()
    try:
        t = Tables(cur)
        events: list[dict[str, Any]] = []
        if t.has("event_persons"):
            events = _older_events(cur, person_id, before)
        texts = _texts(cur, t, [e["seq"] for e in events])
        profile = _row_of(cur, t, "profiles", "*", person_id)
    finally:
        cur.close()
    if before is None and not (profile or events):
        raise NotFoundError(f"no person {person_id} in this workspace", person_id=person_id)
    timeline = guarded("timeline", lambda: build_timeline(events, texts))
    rows: list[dict[str, Any]] = (timeline.data or []) if timeline.ok else []
    return ContactsPage(person_id, display_name(profile, person_id), before,
                        _page(timeline, viewer), _cursor(older_cursor(
                            events, rows, TIMELINE_ROWS, len(events) >= MAX_EVENTS)))  # fmt: skip


def display_name(profile: dict[str, Any] | None, person_id: str) -> str:
    """First and last name, else the person id.

    >>> display_name({"first_name": "Ada", "last_name": None}, "p_1"), display_name(None, "p_1")
    ('Ada', 'p_1')
    """
    if profile:
        name = " ".join(p for p in (profile.get("first_name"), profile.get("last_name")) if p)
        if name:
            return name
    return person_id


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


def pending_note(n: int) -> str:
    """What to say about texts the emotion stage has not analysed yet.

    >>> pending_note(3)
    '3 messages not analysed yet — run `empatia run`.'
    """
    return f"{n} message{'s' if n != 1 else ''} not analysed yet — run `empatia run`."


# -- the lookups --------------------------------------------------------------------------------
def _store(store: Store | Workspace) -> Store:
    return cast("Store", getattr(store, "store", store))


class _Inline(Executor):
    """Runs each call at once, in the caller's thread (no executor given)."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        f: Future[R] = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller by result()
            f.set_exception(e)
        return f


def _on_cursor(store: Store, fn: Callable[..., R], *args: Any) -> R:
    cur = store.cursor()
    try:
        return fn(cur, *args)
    finally:
        cur.close()


def _row_of(cur: duckdb.DuckDBPyConnection, t: Tables, table: str, columns: str,
            pid: str) -> dict[str, Any] | None:  # fmt: skip
    if not t.has(table):
        return None
    return one(cur.execute(f"select {columns} from {table} where person_id = ?", [pid]))


def _masked(profile: dict[str, Any] | None, viewer: Viewer) -> dict[str, Any] | None:
    if profile is None or viewer.contact_details:
        return profile
    return {k: mask(k, v) if k in CONTACT_COLUMNS and isinstance(v, str) else v
            for k, v in profile.items()}  # fmt: skip


def _events_and_texts(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str,
                      store: Store) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:  # fmt: skip
    events = _person_events(cur, pid, store) if t.has("event_persons") else []
    return events, _texts(cur, t, [e["seq"] for e in events])


def _person_events(cur: duckdb.DuckDBPyConnection, person_id: str,
                   store: Store) -> list[dict[str, Any]]:  # fmt: skip
    """The person's events, newest first (at most :data:`MAX_EVENTS`)."""
    seqs = index_for(store).seqs(cur, person_id, MAX_EVENTS)
    if seqs is None:
        seqs = [r[0] for r in cur.execute(
            "select seq from event_persons where person_id = ? order by seq desc limit ?",
            [person_id, MAX_EVENTS],
        ).fetchall()]  # fmt: skip
    if not seqs:
        return []
    cur.execute(  # "= any(list)" probes the list per row: far faster than a semi-join here
        'select seq, "timestamp", type, event, name, raw from events where seq = any(?::bigint[])'
        ' order by "timestamp" desc, seq desc',
        [seqs],
    )
    return _parsed(records(cur))


def _older_events(cur: duckdb.DuckDBPyConnection, person_id: str,
                  before: Cursor | None) -> list[dict[str, Any]]:  # fmt: skip
    """The person's events older than the event ``before``, newest first."""
    when, seq = (before.before, before.seq) if before else (datetime.max.replace(tzinfo=UTC), 2**62)
    cur.execute(
        'select seq, "timestamp", type, event, name, raw from events'
        " where seq in (select seq from event_persons where person_id = ?)"
        ' and ("timestamp" < ? or ("timestamp" = ? and seq < ?))'
        ' order by "timestamp" desc, seq desc limit ?',
        [person_id, when, when, seq, MAX_EVENTS],
    )
    return _parsed(records(cur))


def _parsed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for e in events:
        try:
            raw = orjson.loads(e["raw"])
        except orjson.JSONDecodeError:  # e.g. an integer wider than 64 bits: stdlib json reads it
            import json

            raw = json.loads(e["raw"])
        e["raw"] = raw if isinstance(raw, dict) else {}
    return events


def _texts(cur: duckdb.DuckDBPyConnection, t: Tables, seqs: list[int]) -> dict[int, dict[str, Any]]:
    if not seqs or not t.has("text_analysis"):
        return {}
    cur.execute(
        'select seq, "timestamp", channel, language, sentiment, score, dominant_emotion,'
        " effort, escalation, n_effort, n_escalation from text_analysis where seq = any(?::bigint[])",
        [seqs],
    )
    out = {}
    for r in records(cur):
        for k in ("effort", "escalation"):
            r[k] = orjson.loads(r[k]) if isinstance(r[k], str) else (r[k] or [])
        out[r["seq"]] = r
    return out


def _cursor(c: dict[str, Any] | None) -> Cursor | None:
    return Cursor(datetime.fromisoformat(c["before"]), int(c["seq"])) if c else None


def _page(timeline: Section[Any], viewer: Viewer) -> Section[list[TimelineRow]]:
    """The first :data:`TIMELINE_ROWS` rows, typed, words dropped unless the viewer may read them."""
    if not timeline.ok:
        return timeline
    return Section(True, [_row(r, viewer) for r in (timeline.data or [])[:TIMELINE_ROWS]])


def _row(r: dict[str, Any], viewer: Viewer) -> TimelineRow:
    w = r.get("words")
    words = None
    if w:
        words = Words(text=w["text"] if viewer.words else None, pending=w["pending"],
                      score=w.get("score"), sentiment=w.get("sentiment"),
                      dominant_emotion=w.get("dominant_emotion"), language=w.get("language"))  # fmt: skip
    return TimelineRow(r["timestamp"], r["channel"], str(r["title"]), r["detail"], r["browse"],
                       r["seq"], words)  # fmt: skip


def _welcome(t: Tables, profile: dict[str, Any] | None, events: list[dict[str, Any]],
             active: dict[str, Any] | None) -> Section[Welcome]:  # fmt: skip
    if profile is None:
        if not t.filled("profiles"):
            return t.need("profiles", "profiles")
        return Section.missing("This person has no profile row yet: run `empatia run`.")
    as_of: datetime | None = profile.get("as_of")
    first, last = profile.get("first_seen"), profile.get("last_seen")
    names = {f.name for f in fields(Welcome)}
    facts = {
        "tenure_days": (as_of - first).total_seconds() / 86400 if as_of and first else None,
        "since_last_days": (as_of - last).total_seconds() / 86400 if as_of and last else None,
        "channels": [c for c in (profile.get("channels") or "").split(",") if c],
        "last_event_at": events[0]["timestamp"] if events else None,
        "p_active": (active or {}).get("p_active"),
        "active_driver": (active or {}).get("driver"),
    }
    return Section(True, Welcome(**({k: v for k, v in profile.items() if k in names} | facts)))


def _consent(store: Store, t: Tables, pid: str) -> Section[list[ConsentState]]:
    if not t.has("consent_current"):
        return t.need("privacy", "consent_current")
    return Section(True, list(current(store, pid).values()))


def _identity(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str,
              viewer: Viewer) -> Section[Identity]:  # fmt: skip
    if not t.has("identities"):
        return t.need("identity", "identities")
    see = viewer.contact_details
    ids = [Identifier(k, v if see else mask(k, v)) for k, v in cur.execute(
        "select kind, value from identities where person_id = ? order by kind, value", [pid]
    ).fetchall()]  # fmt: skip
    merges = []
    if t.has("merge_history"):
        merges = [Merge(**m) for m in records(cur.execute(
            "select merged_at, action, person_id, other_person_id, identifiers, reason, evidence"
            " from merge_history where person_id = ? or other_person_id = ?"
            " order by merged_at desc limit 20", [pid, pid]))]  # fmt: skip
        if not see:
            for m in merges:
                m.evidence = None
    return Section(True, Identity(ids, merges, dict(Counter(i.kind for i in ids))))


def _trajectory(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section[Trajectory]:
    cols = ", ".join(f.name for f in fields(Trajectory))
    row = _row_of(cur, t, "experience_trajectories", cols, pid)
    return Section(True, Trajectory(**row) if row else None)


def _emotion(t: Tables, texts: dict[int, dict[str, Any]], summary: Trajectory | None,
             pending: int = 0) -> Section[Emotion]:  # fmt: skip
    if not t.has("text_analysis") or not texts:
        if pending:
            return Section.missing(pending_note(pending))
        if not t.has("text_analysis"):
            return t.need("emotion", "text_analysis")
        return Section.missing("No words from this person have been analysed (none written, "
                               "or the emotion stage has not reached them).")  # fmt: skip
    points = sorted(texts.values(), key=lambda r: (r["timestamp"], r["seq"]))
    return Section(True, Emotion([TextScore(**p) for p in points], summary,
                                 pending_note(pending) if pending else None))  # fmt: skip


def _service(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section[Service]:
    if not t.has("experience_journeys"):
        return t.need("experience", "experience_journeys")
    rows = [Journey(**r) for r in records(cur.execute(
        f"select {', '.join(f.name for f in fields(Journey))} from experience_journeys"
        " where person_id = ? order by coalesce(resolved, false), last_at desc limit 12", [pid]))]  # fmt: skip
    return Section(True, Service([r for r in rows if not r.resolved],
                                 [r for r in rows if r.resolved][:3]))  # fmt: skip


def _decision(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section[Decision]:
    if not t.has("decisions"):
        return t.need("decide", "decisions")
    row = one(cur.execute(
        "select action, kind, channel, items, reason, policy, fallback, expires_at, decided_at,"
        " scores from decisions where person_id = ?", [pid]))  # fmt: skip
    if row is None:
        if not t.filled("decisions"):
            return t.need("decide", "decisions")
        return Section.missing("No decision for this person yet: run `empatia decide --all`.")
    for k in ("items", "policy", "scores"):
        if isinstance(row[k], str):
            row[k] = orjson.loads(row[k])
    row["item_names"] = item_names(row["items"], row.pop("scores"))
    return Section(True, Decision(**row))


def _care(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section[Care]:
    if not (t.has("care_list") and t.has("care_alerts")):
        return t.need("care", "care_list", "care_alerts")
    listed = one(cur.execute(
        f"select {', '.join(f.name for f in fields(CareListing))} from care_list"
        " where person_id = ?", [pid]))  # fmt: skip
    alert = one(cur.execute(
        f"select {', '.join(f.name for f in fields(CareAlert))} from care_alerts"
        " where person_id = ? order by created_at desc, alert_id desc limit 1", [pid]))  # fmt: skip
    return Section(True, Care(CareListing(**listed) if listed else None,
                              CareAlert(**alert) if alert else None))  # fmt: skip
