"""The consent ledger and the one place every stage asks whether a purpose is allowed.

Consent is recorded per person and purpose, append-only, with time, source and legal basis
(``consent_ledger``); the current state is derived (the ``consent_current`` view: the latest
decision per person and purpose). Records come from ``Consent Updated`` events and
``context.consent`` on any event (the ``privacy`` stage reads them) and from the HTTP API.

Python callers ask :func:`check` / :func:`require`; SQL callers join ``consent_current`` or
use :func:`allowed_sql`, which applies the same defaults.

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> _ = record(s, "p_1", "marketing_email", True, source="api")
>>> check(s, "p_1", "marketing", channel="email"), check(s, "p_1", "partner_sharing")
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from empatia.errors import ConsentError, ValidationError
from empatia.store import Store

PURPOSES: tuple[str, ...] = (
    "analytics",
    "personalisation",
    "marketing_email",
    "marketing_sms",
    "marketing_push",
    "partner_sharing",
    "profiling",
)
CHANNELS: tuple[str, ...] = ("email", "sms", "push")

#: What holds when a person never said anything: analytics of one's own customers under
#: legitimate interest (withdrawable); everything else needs an explicit yes.
DEFAULTS: dict[str, bool] = {purpose: purpose == "analytics" for purpose in PURPOSES}
DEFAULT_BASIS: dict[str, str] = {"analytics": "legitimate_interest"}


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
    """Append one decision for a person (a person id, or ``user_id:…`` before stitching)."""
    key = purpose_key(purpose, channel)
    if not person_id or not person_id.strip():
        raise ValidationError("a consent record needs a person (person id or user_id:…)")
    at = at or datetime.now(UTC)
    kind, sep, value = person_id.partition(":")
    cols = {"user_id": None, "anonymous_id": None, "person_id": None}
    if sep and kind in ("user_id", "anonymous_id"):
        cols[kind] = value
    else:
        cols["person_id"] = person_id.strip()
    store.con.execute(
        "insert into consent_ledger (person_id, user_id, anonymous_id, purpose, granted,"
        " legal_basis, source, decided_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
        [cols["person_id"], cols["user_id"], cols["anonymous_id"], key, bool(granted),
         legal_basis, source, at],
    )  # fmt: skip
    return ConsentState(key, bool(granted), at, source, legal_basis)


def ensure_view(store: Store) -> None:
    """Map ledger rows to persons through the identity tables, once those exist."""
    if not (store.table_exists("identities") and store.table_exists("event_persons")):
        return
    store.con.execute(
        """
        create or replace view consent_current as
        select subject as person_id, purpose,
               arg_max(granted, (decided_at, consent_id)) as granted,
               max(decided_at) as decided_at,
               arg_max(source, (decided_at, consent_id)) as source,
               arg_max(legal_basis, (decided_at, consent_id)) as legal_basis
        from (
            select l.*, coalesce(l.person_id, ep.person_id, iu.person_id, ia.person_id,
                                 'user_id:' || l.user_id, 'anonymous_id:' || l.anonymous_id)
                        as subject
            from consent_ledger l
            left join event_persons ep on ep.seq = l.seq
            left join identities iu on iu.kind = 'user_id' and iu.value = l.user_id
            left join identities ia on ia.kind = 'anonymous_id' and ia.value = l.anonymous_id
        )
        group by subject, purpose
        """
    )


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


def current(store: Store, person_id: str) -> dict[str, ConsentState]:
    """Every purpose's state for one person, defaults filled in."""
    cur = store.cursor()
    try:
        rows = cur.execute(
            "select purpose, arg_max(granted, decided_at), max(decided_at),"
            " arg_max(source, decided_at), arg_max(legal_basis, decided_at)"
            " from consent_current where list_contains(?, person_id) group by purpose",
            [_keys(store, cur, person_id)],
        ).fetchall()
    finally:
        cur.close()
    out = {
        p: ConsentState(p, DEFAULTS[p], None, "default", DEFAULT_BASIS.get(p)) for p in PURPOSES
    }
    for purpose, granted, at, source, basis in rows:
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
            "select granted from consent_current where list_contains(?, person_id)"
            " and purpose = ? order by decided_at desc limit 1",
            [_keys(store, cur, person_id), key],
        ).fetchone()
    finally:
        cur.close()
    return DEFAULTS[key] if row is None else bool(row[0])


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
_FROM_TRACK = """
insert into consent_ledger (user_id, anonymous_id, purpose, granted, legal_basis, source, seq,
                            decided_at)
select user_id, anonymous_id, purpose, granted, legal_basis, 'event', seq, "timestamp"
from (
    select seq, user_id, anonymous_id, "timestamp",
        case when p = 'marketing' and ch is not null then 'marketing_' || ch else p end
            as purpose,
        try_cast(json_extract_string(raw, '$.properties.granted') as boolean) as granted,
        json_extract_string(raw, '$.properties.legal_basis') as legal_basis
    from (
        select *, lower(trim(json_extract_string(raw, '$.properties.purpose'))) as p,
               lower(trim(json_extract_string(raw, '$.properties.channel'))) as ch
        from events where seq > $since and seq <= $upto and event = 'Consent Updated'
    )
)
where granted is not null and list_contains($purposes, purpose)
"""

_FROM_CONTEXT = """
insert into consent_ledger (user_id, anonymous_id, purpose, granted, legal_basis, source, seq,
                            decided_at)
select user_id, anonymous_id, purpose, granted, 'consent', 'context', seq, "timestamp"
from (
    select seq, user_id, anonymous_id, "timestamp", lower(k) as purpose,
           try_cast(json_extract_string(c, '$."' || k || '"') as boolean) as granted
    from (
        select seq, user_id, anonymous_id, "timestamp", c, unnest(json_keys(c)) as k
        from (
            select seq, user_id, anonymous_id, "timestamp",
                   json_extract(raw, '$.context.consent') as c
            from events
            where seq > $since and seq <= $upto and contains(raw, '"consent"')
        )
        where json_type(c) = 'OBJECT'
    )
)
where granted is not null and list_contains($purposes, purpose)
"""


def ingest_events(store: Store, since: int, upto: int) -> int:
    """Append the consent decisions of events ``since < seq <= upto``; return how many."""
    params = {"since": since, "upto": upto, "purposes": list(PURPOSES)}
    before = _count(store)
    store.con.execute(_FROM_TRACK, params)
    store.con.execute(_FROM_CONTEXT, params)
    return _count(store) - before


def _count(store: Store) -> int:
    row = store.con.execute("select count(*) from consent_ledger").fetchone()
    return int(row[0]) if row else 0
