"""Tombstones: what is left of an erased person — salted hashes, never identifiers.

Each identifier of an erased person (``user_id``, ``anonymous_id``, e-mail, phone, …) is kept
as ``sha256(salt || kind || ':' || value)``; the salt is random per workspace, so the hashes
cannot be matched against another store or a list of e-mails. Events that arrive later for
an erased person are dropped: :class:`TombstoneSet` on the HTTP path (in memory),
:func:`drop_erased_events` after a file import, and the ``privacy`` stage as a backstop over
every identifier the identity stage extracted.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import orjson

from empatia.privacy.identifiers import all_forms, forms, of_event
from empatia.store import Store, state

_SALT_KEY = "tombstone_salt"


def salt(store: Store) -> str:
    """The workspace's salt, created on first use."""
    cur = store.cursor()
    try:
        if (value := state.get(cur, "privacy_state", _SALT_KEY)) is None:
            state.put_new(cur, "privacy_state", _SALT_KEY, secrets.token_hex(16))
            value = state.get(cur, "privacy_state", _SALT_KEY)  # whoever wrote it first
        return str(value)
    finally:
        cur.close()


def digest(salt_value: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{salt_value}{kind}:{value}".encode()).hexdigest()


def add(store: Store, identifiers: Iterable[tuple[str, str]]) -> list[str]:
    """Record tombstones for ``(kind, value)`` pairs, in every form of each (any case, a phone
    in any format: :mod:`empatia.privacy.identifiers`); returns their hashes."""
    s = salt(store)
    hashes = sorted({digest(s, k, v) for k, v in all_forms(identifiers)})
    if hashes:
        store.con.execute(
            "insert into privacy_tombstones (hash) select unnest(?::varchar[])"
            " on conflict do nothing",
            [hashes],
        )
    return hashes


def _event_hashes(salt_value: str, raw: str | Mapping[str, Any] | None, user_id: str | None,
                  anonymous_id: str | None, previous_id: str | None = None) -> set[str]:  # fmt: skip
    event: Any = raw
    if isinstance(raw, (str, bytes)):
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            event = {}
    if not isinstance(event, Mapping):
        event = {}
    return {digest(salt_value, k, v)
            for k, v in of_event(event, user_id, anonymous_id, previous_id)}  # fmt: skip


def is_erased(store: Store, *, user_id: str | None = None, anonymous_id: str | None = None,
              **identifiers: str | None) -> bool:  # fmt: skip
    """Whether any of the given identifiers belongs to an erased person.

    >>> s = Store(":memory:")
    >>> _ = add(s, [("user_id", "u1"), ("email", "ala@x.pl")])
    >>> is_erased(s, user_id="u1"), is_erased(s, user_id="u2", email="ALA@x.pl")
    (True, True)
    >>> is_erased(s, user_id="u2", email="a@b.c")
    False
    """
    s = salt(store)
    pairs = {"user_id": user_id, "anonymous_id": anonymous_id, **identifiers}
    hashes = [digest(s, k, f) for k, v in pairs.items() for f in forms(k, v)]
    if not hashes:
        return False
    row = store.con.execute(
        "select count(*) from privacy_tombstones where list_contains(?, hash)", [hashes]
    ).fetchone()
    return bool(row and row[0])


class TombstoneSet:
    """The tombstones in memory, for the HTTP hot path.

    ``filter(rows)`` keeps rows (``empatia.ingest.event.Row``) that carry no identifier of an
    erased person — user and anonymous ids, and the e-mail, phone, loyalty, CRM and device
    ids in the event's traits and properties, in any of their forms. Costs nothing while no
    one has been erased.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._salt = ""
        self._hashes: frozenset[str] = frozenset()
        self.refresh()

    def refresh(self) -> None:
        s = salt(self.store)
        cur = self.store.cursor()
        try:
            hashes = frozenset(r[0] for r in cur.execute("select hash from privacy_tombstones").fetchall())
        finally:
            cur.close()
        with self._lock:
            self._salt, self._hashes = s, hashes

    def is_erased(self, row: Any) -> bool:  # noqa: ANN401 - an events Row
        if not self._hashes:
            return False
        found = _event_hashes(self._salt, row.raw, row.user_id, row.anonymous_id,
                              getattr(row, "previous_id", None))  # fmt: skip
        return not found.isdisjoint(self._hashes)

    def filter(self, rows: Sequence[Any]) -> list[Any]:
        if not self._hashes:
            return list(rows)
        return [r for r in rows if not self.is_erased(r)]


def drop_erased_events(con: duckdb.DuckDBPyConnection | Store, since_seq: int = 0) -> int:
    """Delete events (``seq > since_seq``) that carry any identifier of an erased person, in
    any form; for the importer, before commit. Returns how many were dropped; free while no
    one has been erased."""
    c = con.con if isinstance(con, Store) else con
    row = c.execute("select count(*) from privacy_tombstones").fetchone()
    if not row or not row[0]:
        return 0
    srow = c.execute("select value from privacy_state where key = ?", [_SALT_KEY]).fetchone()
    if not srow:
        return 0
    s = str(srow[0])
    hashes = {r[0] for r in c.execute("select hash from privacy_tombstones").fetchall()}
    rel = c.execute(
        "select seq, raw, user_id, anonymous_id, previous_id from events where seq > ?",
        [since_seq],
    )
    drop: list[int] = []
    while batch := rel.fetchmany(10_000):
        drop += [seq for seq, *ev in batch if not _event_hashes(s, *ev).isdisjoint(hashes)]
    if drop:
        c.execute("delete from events where list_contains(?, seq)", [drop])
    return len(drop)
