"""The consent ledger and the one place every stage asks whether a purpose is allowed.

Consent is recorded per person and purpose, append-only, with time, source and legal basis
(``consent_ledger``); the current state is derived (the ``consent_current`` view). Records come
from ``Consent Updated`` events and ``context.consent`` on any event (the ``privacy`` stage
reads them) and from the HTTP API.

Times a client sends are clamped to when the server received them (nobody decides in the
future), and ``recorded_at`` is when the server learnt the decision. A grant holds only while
it is the latest decision both by when it was made and by when it was learnt: a withdrawal wins
every tie or disagreement (see ``docs/consent.md``).

Which purposes each *use* of personal data needs is one table, :data:`USES`; stages ask
:func:`allowed` (Python) or :func:`use_sql` (SQL) with the use's name, never a purpose of their
own choosing. Lower level: :func:`check` / :func:`require` / :func:`allowed_sql` per purpose.

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> _ = record(s, "p_1", "marketing_email", True, source="api")
>>> check(s, "p_1", "marketing", channel="email"), check(s, "p_1", "partner_sharing")
(True, False)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from empatia.errors import ConsentError, ValidationError
from empatia.store import Store

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from empatia.store.engine import Engine

log = logging.getLogger(__name__)

PURPOSES: tuple[str, ...] = (
    "analytics",
    "personalisation",
    "marketing_email",
    "marketing_sms",
    "marketing_push",
    "partner_sharing",
    "profiling",
    "care",
)
CHANNELS: tuple[str, ...] = ("email", "sms", "push")

#: What holds when a person never said anything: analytics of one's own customers and contact
#: by the care team about their own complaint, under legitimate interest (the person may
#: object: a ``granted: false`` record); everything else needs an explicit yes.
LEGITIMATE_INTEREST: tuple[str, ...] = ("analytics", "care")
DEFAULTS: dict[str, bool] = {purpose: purpose in LEGITIMATE_INTEREST for purpose in PURPOSES}
DEFAULT_BASIS: dict[str, str] = {p: "legitimate_interest" for p in LEGITIMATE_INTEREST}


@dataclass(frozen=True)
class Use:
    """What one use of personal data needs: every purpose in ``needs`` allowed, plus
    ``marketing_<channel>`` when ``marketing`` and the message goes out on e-mail, SMS or push."""

    needs: tuple[str, ...]
    marketing: bool = False
    description: str = ""


#: The one table of which purposes each use needs. Stages name the use; nothing else decides.
USES: dict[str, Use] = {
    "personal_offer": Use(("personalisation", "profiling"), True,
                          "an offer chosen from the person's own history"),
    "generic_offer": Use((), True, "the same popular items everybody sees"),
    "audience": Use(("profiling",), False,
                    "a segment chosen by predicted behaviour (p_alive, value, mood, …)"),
    "audience_export": Use(("profiling",), False,
                           "a segment's contact list; also needs the destination's purpose"),
    "partner_export": Use(("partner_sharing",), False, "contracted fields sent to a partner"),
    "survey": Use(("analytics",), False, "a feedback survey about one's own orders"),
    "question": Use(("profiling",), False, "a progressive-profiling question"),
    "care_contact": Use(("care",), False,
                        "the care team gets in touch about a complaint (until the person objects)"),
}  # fmt: skip


def use_purposes(use: str, channel: str | None = None, destination: str | None = None
                 ) -> tuple[str, ...]:  # fmt: skip
    """The purpose keys ``use`` needs (on ``channel``, for ``destination``); checks the names.

    >>> use_purposes("personal_offer", channel="email")
    ('personalisation', 'profiling', 'marketing_email')
    >>> use_purposes("audience_export", destination="marketing_sms")
    ('profiling', 'marketing_sms')
    """
    u = USES.get(use)
    if u is None:
        raise ValidationError(f"unknown use {use!r}; use one of {', '.join(USES)}", use=use)
    needs = list(u.needs)
    if u.marketing and channel in CHANNELS:
        needs.append(purpose_key("marketing", channel))
    if destination is not None:
        needs.append(purpose_key(destination))
    return tuple(dict.fromkeys(needs))


def missing_purpose(consents: Mapping[str, bool] | None, use: str, channel: str | None = None,
            destination: str | None = None) -> str | None:  # fmt: skip
    """The first purpose ``use`` needs that ``consents`` (purpose → granted, absent keys take
    :data:`DEFAULTS`) does not allow; ``None`` when allowed. ``consents=None`` means they could
    not be read: every purpose is missing (fail closed).

    >>> missing_purpose({"personalisation": True}, "personal_offer")
    'profiling'
    >>> missing_purpose(None, "survey")
    'analytics'
    """
    for p in use_purposes(use, channel, destination):
        if consents is None or not consents.get(p, DEFAULTS[p]):
            return p
    return None


def allowed(store: Store, person_id: str, use: str, *, channel: str | None = None,
            destination: str | None = None) -> tuple[bool, str]:  # fmt: skip
    """May ``use`` be made of ``person_id``'s data now? ``(allowed, reason)``.

    Fails closed: when the ledger cannot be read the answer is no, with that reason.

    >>> s = Store(":memory:")
    >>> allowed(s, "p_1", "question")
    (False, 'no consent for profiling')
    """
    needs = use_purposes(use, channel, destination)
    try:
        states = current(store, person_id)
    except Exception as e:  # noqa: BLE001 - fail closed, whatever broke
        log.warning("consent could not be read (%s): %s refused", type(e).__name__, use)
        return False, "consent could not be checked: refused until it can"
    gap = missing_purpose({p: s.granted for p, s in states.items()}, use, channel, destination)
    return (False, f"no consent for {gap}") if gap else (True, f"consent for {', '.join(needs)}")


def use_sql(use: str, person_col: str = "person_id", *, channel: str | None = None,
            destination: str | None = None) -> str:  # fmt: skip
    """:func:`allowed` as a SQL boolean over ``consent_current`` (needs the view)."""
    parts = [allowed_sql(p, person_col) for p in use_purposes(use, channel, destination)]
    return " and ".join(parts) if parts else "true"


def purpose_key(purpose: str, channel: str | None = None) -> str:
    """``marketing`` + ``email`` → ``marketing_email``; checks the purpose is known."""
    key = f"{purpose}_{channel}" if channel else purpose
    if key not in PURPOSES:
        raise ValidationError(
            f"unknown purpose {key!r}; use one of {', '.join(PURPOSES)}"
            + (f" (channels: {', '.join(CHANNELS)})" if purpose == "marketing" else ""),
            purpose=key,
        )
    return key


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    granted: bool
    decided_at: datetime | None
    source: str
    legal_basis: str | None


def record(
    store: Store,
    person_id: str,
    purpose: str,
    granted: bool,
    *,
    channel: str | None = None,
    legal_basis: str | None = "consent",
    source: str = "api",
    at: datetime | None = None,
) -> ConsentState:
    """Append one decision for a person (a person id, or ``user_id:…`` before stitching).

    ``at`` (when the person decided) is clamped to now: a decision dated in the future would
    otherwise outrank the person's own later withdrawal. A time without a zone is UTC.
    """
    key = purpose_key(purpose, channel)
    if not person_id or not person_id.strip():
        raise ValidationError("a consent record needs a person (person id or user_id:…)")
    now = datetime.now(UTC)
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = now if at is None or at > now else at
    kind, sep, value = person_id.partition(":")
    cols: dict[str, str | None] = {"user_id": None, "anonymous_id": None, "person_id": None}
    if sep and kind in ("user_id", "anonymous_id"):
        cols[kind] = value
    else:
        cols["person_id"] = person_id.strip()
    store.con.execute(
        "insert into consent_ledger (person_id, user_id, anonymous_id, purpose, granted,"
        " legal_basis, source, decided_at, recorded_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [cols["person_id"], cols["user_id"], cols["anonymous_id"], key, bool(granted),
         legal_basis, source, at, now],
    )  # fmt: skip
    return ConsentState(key, bool(granted), at, source, legal_basis)


def decisions(table: Callable[[str], ir.Table]) -> ir.Table:
    """Every consent decision: the ledger's (API, CLI, profiling) and those the privacy stage
    read from events (``consent_events``), ``ord`` ordering those of one source and time."""
    import ibis

    led, ev = table("consent_ledger"), table("consent_events")
    cols = ("user_id", "anonymous_id", "purpose", "granted", "legal_basis", "source", "seq",
            "decided_at", "recorded_at")  # fmt: skip
    a = led.select("person_id", *cols, ord=led.consent_id)
    b = ev.select(person_id=ibis.null("string"), *cols, ord=ev.part)
    like = ibis.schema({k: t.copy(nullable=True) for k, t in a.schema().items()})
    return a.cast(like).union(b.cast(like))


def current_expr(table: Callable[[str], ir.Table], *, identity: bool) -> ir.Table:
    """The current state per subject and purpose (``person_id, purpose, granted, decided_at,
    source, legal_basis, recorded_at``) on an engine's tables — the ``consent_current`` view.

    A subject is the decision's person: given by the caller, else the person of its event,
    user id or anonymous id (``identity``: those tables exist), else ``user_id:…`` /
    ``anonymous_id:…``. A grant holds only when it is the latest decision both by when the
    server learnt it (``recorded_at``) and by when the person made it (``decided_at``,
    clamped): a withdrawal wins every tie or disagreement."""
    import ibis

    d = decisions(table)
    known = [d.person_id]
    if identity:
        ep = table("event_persons").select("seq", ep=ibis._.person_id)
        ids = table("identities")
        iu = ids.filter(ids.kind == "user_id").select(user_id=ids.value, iu=ids.person_id)
        ia = ids.filter(ids.kind == "anonymous_id").select(anonymous_id=ids.value,
                                                          ia=ids.person_id)  # fmt: skip
        d = d.left_join(ep, "seq").drop("seq_right")
        d = d.left_join(iu, "user_id").drop("user_id_right")
        d = d.left_join(ia, "anonymous_id").drop("anonymous_id_right")
        known += [d.ep, d.iu, d.ia]
    d = d.mutate(subject=ibis.coalesce(*known, "user_id:" + d.user_id,
                                       "anonymous_id:" + d.anonymous_id))  # fmt: skip
    seq = d.seq.fill_null(0)
    learnt = ibis.struct({"r": d.recorded_at, "s": seq, "o": d.ord})
    made = ibis.struct({"d": d.decided_at, "r": d.recorded_at, "s": seq, "o": d.ord})
    out = d.group_by(person_id=d.subject, purpose=d.purpose).aggregate(
        granted=d.granted.argmax(learnt) & d.granted.argmax(made),
        decided_at=d.decided_at.max(),
        source=d.source.argmax(learnt),
        legal_basis=d.legal_basis.argmax(learnt),
        recorded_at=d.recorded_at.max(),
    )
    return out


def ensure_view(store: Store) -> None:
    """The ``consent_current`` view in the store: :func:`current_expr` on its own DuckDB,
    ids mapped to persons once the identity tables exist."""
    import ibis

    from empatia.store.engine import DuckDBEngine

    with DuckDBEngine(store) as eng:
        identity = eng.has("identities") and eng.has("event_persons")
        sql = ibis.to_sql(current_expr(eng.table, identity=identity), dialect="duckdb")
    store.con.execute(f"create or replace view consent_current as {sql}")


def _keys(store: Store, cur: Any, subject: str) -> list[str]:
    """The view keys of a subject: itself, and the person an ``kind:value`` id belongs to."""
    keys = [subject]
    kind, sep, value = subject.partition(":")
    if sep and kind in ("user_id", "anonymous_id", "email", "phone") and store.table_exists(
        "identities"
    ):
        keys += [r[0] for r in cur.execute(
            "select distinct person_id from identities where kind = ? and value = ?",
            [kind, value.strip().lower() if kind == "email" else value.strip()],
        ).fetchall()]  # fmt: skip
    return keys


#: Several view rows may be one person (its id and a ``user_id:…`` not stitched yet): the same
#: rule across them, so the newest withdrawal by either clock wins.
_STATE_SQL = (
    "select purpose, arg_max(granted, recorded_at) and arg_max(granted, decided_at),"
    " max(decided_at), arg_max(source, recorded_at), arg_max(legal_basis, recorded_at)"
    " from consent_current where list_contains(?, person_id) {purpose} group by purpose"
)


def current(store: Store, person_id: str) -> dict[str, ConsentState]:
    """Every purpose's state for one person, defaults filled in."""
    cur = store.cursor()
    try:
        rows = cur.execute(
            _STATE_SQL.format(purpose=""), [_keys(store, cur, person_id)]
        ).fetchall()
    finally:
        cur.close()
    out = {
        p: ConsentState(p, DEFAULTS[p], None, "default", DEFAULT_BASIS.get(p)) for p in PURPOSES
    }
    for purpose, granted, at, source, basis in rows:
        if purpose in out:
            out[purpose] = ConsentState(purpose, bool(granted), at, source, basis)
    return out


def check(store: Store, person_id: str, purpose: str, channel: str | None = None) -> bool:
    """Whether ``person_id`` allows ``purpose`` (on ``channel``) now.

    ``person_id`` may also be ``user_id:…``, ``anonymous_id:…`` or ``email:…``: the person
    that id belongs to is asked.
    """
    key = purpose_key(purpose, channel)
    cur = store.cursor()
    try:
        row = cur.execute(
            _STATE_SQL.format(purpose="and purpose = ?"), [_keys(store, cur, person_id), key]
        ).fetchone()
    finally:
        cur.close()
    return DEFAULTS[key] if row is None else bool(row[1])


def require(store: Store, person_id: str, purpose: str, channel: str | None = None) -> None:
    """Raise :class:`~empatia.errors.ConsentError` unless :func:`check` allows it."""
    if not check(store, person_id, purpose, channel):
        key = purpose_key(purpose, channel)
        raise ConsentError(
            f"no consent for {key}: the person has not agreed to it (or withdrew); "
            "record consent first (POST /v1/consent/{id})",
            purpose=key,
        )


def allowed_sql(purpose: str, person_col: str = "person_id", channel: str | None = None) -> str:
    """A SQL boolean for joins and filters: does the row's person allow ``purpose``?

    >>> allowed_sql("partner_sharing", "p.person_id")  # doctest: +NORMALIZE_WHITESPACE
    "coalesce((select c.granted from consent_current c where c.person_id = p.person_id
      and c.purpose = 'partner_sharing'), false)"
    """
    key = purpose_key(purpose, channel)
    default = "true" if DEFAULTS[key] else "false"
    return (
        f"coalesce((select c.granted from consent_current c where c.person_id = {person_col} "
        f"and c.purpose = '{key}'), {default})"
    )


def as_dict(states: dict[str, ConsentState]) -> dict[str, Any]:
    return {
        p: {"granted": s.granted, "decided_at": s.decided_at, "source": s.source,
            "legal_basis": s.legal_basis}
        for p, s in states.items()
    }  # fmt: skip


# -- from events (the privacy stage) ---------------------------------------------------------
#: The consent ledger rows :func:`ledger_rows` makes of a batch of events.
LEDGER = pa.schema([("part", pa.int32()), ("user_id", pa.string()), ("anonymous_id", pa.string()), ("purpose", pa.string()),
                    ("granted", pa.bool_()), ("legal_basis", pa.string()), ("source", pa.string()),
                    ("seq", pa.int64()), ("decided_at", pa.timestamp("us", tz="UTC")),
                    ("recorded_at", pa.timestamp("us", tz="UTC"))])  # fmt: skip
_YES, _NO = frozenset({"true", "t", "yes", "y", "1"}), frozenset({"false", "f", "no", "n", "0"})


def _granted(value: Any) -> bool | None:
    """A JSON value read as a yes or a no (``true``, ``"yes"``, ``1``, ``"N"``…), else None."""
    if isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, int) else ""
    low = text.lower()
    return True if low in _YES else False if low in _NO else None


def _text(value: Any) -> str | None:
    """A JSON value as text (a string as it is, anything else as JSON)."""
    return value if isinstance(value, str) or value is None else json.dumps(value)


def _decisions(event: str, doc: dict[str, Any]) -> Iterator[tuple[str, bool, str | None, str]]:
    """``(purpose, granted, legal basis, source)`` of one event: a ``Consent Updated`` track
    (``properties.purpose`` / ``channel`` / ``granted``) and ``context.consent`` (purpose →
    granted, on any event); purposes outside :data:`PURPOSES` are not consent."""
    props = doc.get("properties")
    if event == "Consent Updated" and isinstance(props, dict):
        purpose = (_text(props.get("purpose")) or "").strip(" ").lower()
        channel = _text(props.get("channel"))
        if purpose == "marketing" and channel is not None:
            purpose = f"marketing_{channel.strip(' ').lower()}"
        granted = _granted(props.get("granted"))
        if granted is not None and purpose in PURPOSES:
            yield purpose, granted, _text(props.get("legal_basis")), "event"
    context = doc.get("context")
    given = context.get("consent") if isinstance(context, dict) else None
    if isinstance(given, dict):
        for key, value in given.items():
            granted = _granted(value)
            if granted is not None and key.lower() in PURPOSES:
                yield key.lower(), granted, "consent", "context"


def _document(raw: str | None) -> Any:
    """An event's stored JSON, parsed (``None``: no document)."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # what orjson refuses and json reads (NaN, huge numbers)
        try:
            return json.loads(raw)
        except ValueError:
            return None


def ledger_rows(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """The consent decisions in a batch of events (``seq, user_id, anonymous_id, event, raw,
    decided_at, recorded_at``): the engine's step, row by row, pure."""
    out: dict[str, list[Any]] = {k: [] for k in ("part", "purpose", "granted", "legal_basis",
                                                  "source")}  # fmt: skip
    take: list[int] = []
    events, raws = batch.column("event").to_pylist(), batch.column("raw").to_pylist()
    for r, (event, raw) in enumerate(zip(events, raws, strict=True)):
        doc = _document(raw)
        if not isinstance(doc, dict):
            continue
        for part, (purpose, granted, basis, source) in enumerate(_decisions(event, doc)):
            out["part"].append(part)
            out["purpose"].append(purpose)
            out["granted"].append(granted)
            out["legal_basis"].append(basis)
            out["source"].append(source)
            take.append(r)
    rows = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    rows = rows.take(pa.array(take, pa.int64()))
    return pa.table({f.name: out[f.name] if f.name in out else rows[f.name] for f in LEDGER},
                    schema=LEDGER)


def ingest_events(eng: Engine, since: int, upto: int, *, replace: bool = False) -> int:
    """Add the consent decisions of events ``since < seq <= upto`` to ``consent_events`` (in
    place of those there with ``replace``); return how many."""
    import ibis  # the batch run only: checking consent needs no Ibis

    ev = eng.table("events")
    ev = ev.filter((ev.seq > since) & (ev.seq <= upto)
                   & ((ev.event == "Consent Updated") | ev.raw.contains('"consent"')))  # fmt: skip
    ev = ev.select("seq", "user_id", "anonymous_id", "event", "raw", recorded_at=ev.received_at,
                   decided_at=ibis.least(ev.timestamp, ev.received_at))  # fmt: skip
    rows = eng.map_batches(ev, ledger_rows, LEDGER, "consent")
    return eng.write(rows, "consent_events", replace=replace)
