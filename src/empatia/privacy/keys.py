"""API keys with scopes, stored as SHA-256 hashes of their secrets.

Scopes are defined here and nowhere else (routes ask for one through
``empatia.api.deps.require``):

========  =====================================================================  ============
scope     may                                                                    grants
========  =====================================================================  ============
write     send events (and consent decisions) — nothing else; it is public:       write
          browsers carry it, so it never reads anything back
read      read profiles, analytics, decisions                                     read
care      what a CX agent does: everything ``read`` may, plus acknowledge and     read, care
          resolve special-care alerts
admin     everything, including keys, erasure, exports and imports                all four
========  =====================================================================  ============

A write key is what Segment calls a *write key*: clients send it as the HTTP basic-auth user
name.

>>> ApiKey("k_1", "agents", "care").allows("read"), ApiKey("k_2", "site", "write").allows("read")
(True, False)
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from empatia.errors import AuthError, ForbiddenError, NotFoundError, ValidationError
from empatia.store import Store

SCOPES = ("write", "read", "care", "admin")
#: What each scope grants: a route needing ``x`` accepts the keys whose grants hold ``x``.
GRANTS: dict[str, frozenset[str]] = {
    "write": frozenset({"write"}),
    "read": frozenset({"read"}),
    "care": frozenset({"read", "care"}),
    "admin": frozenset(SCOPES),
}


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scope: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, needed: str) -> bool:
        """Whether this key may do what ``needed`` names (fails closed: unknown scope → no)."""
        return self.revoked_at is None and needed in GRANTS.get(self.scope, frozenset())


def _publish(store: Store) -> None:
    """On a lake's primary, the write keys go to the lake, where its ingest nodes read them."""
    if store.lake is not None:
        from empatia.store.lake import publish_keys

        publish_keys(store.con, store.lake)


def create_key(store: Store, scope: str, name: str = "", *,
               publish: bool = True) -> tuple[ApiKey, str]:  # fmt: skip
    """Create a key; returns it and its secret, which is shown once and never stored."""
    if scope not in SCOPES:
        raise ValidationError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
    key_id = "k_" + secrets.token_hex(4)
    secret = f"emp_{scope}_{secrets.token_urlsafe(24)}"
    store.con.execute(
        "insert into api_keys (key_id, name, scope, secret_hash) values (?, ?, ?, ?)",
        [key_id, name or scope, scope, hash_secret(secret)],
    )
    if publish:
        _publish(store)
    return ApiKey(key_id, name or scope, scope), secret


def list_keys(store: Store) -> list[ApiKey]:
    rows = store.con.execute(
        "select key_id, name, scope, created_at, revoked_at from api_keys order by created_at"
    ).fetchall()
    return [ApiKey(*r) for r in rows]


def revoke_key(store: Store, key_id: str, *, publish: bool = True) -> None:
    n = store.con.execute(
        "update api_keys set revoked_at = now() where key_id = ? and revoked_at is null "
        "returning key_id",
        [key_id],
    ).fetchall()
    if not n:
        raise NotFoundError(f"no active key {key_id!r}; see `empatia keys list`", key_id=key_id)
    if publish:
        _publish(store)


def rotate_key(store: Store, key_id: str) -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same name and scope; the old one is revoked.

    Returns the new key and its secret (shown once). Clients switch to the new secret; the old
    one stops working at once.
    """
    row = store.con.execute(
        "select name, scope from api_keys where key_id = ? and revoked_at is null", [key_id]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no active key {key_id!r}; see `empatia keys list`", key_id=key_id)
    name, scope = row
    store.con.execute("begin transaction")
    try:
        new, secret = create_key(store, scope, name, publish=False)
        revoke_key(store, key_id, publish=False)
        store.con.execute("commit")
    except BaseException:
        store.con.execute("rollback")
        raise
    _publish(store)
    return new, secret


#: Seconds an ingest node of a lake trusts what it read of its primary's write keys.
LAKE_KEYS_TTL = 5.0


class KeyRing:
    """An in-memory view of the keys for the hot path, refreshed when a key is not known.

    On an ingest node of a lake, the primary's write keys count too (a client sends one write
    key to whichever node it reaches); they are read again every :data:`LAKE_KEYS_TTL`
    seconds, so a key revoked at the primary stops working here within that time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._by_hash: dict[str, ApiKey] = {}
        self._ephemeral: dict[str, ApiKey] = {}
        self._lake = None
        if store.lake is not None and not store.read_only:
            from empatia.store.lake import is_primary

            self._lake = None if is_primary(store.con, store.lake) else store.lake
        self._read_at = -1e9  # when the primary's keys were last read from the lake
        self._lake_rows: list[tuple[Any, ...]] = []
        self.refresh()

    def refresh(self, *, lake_after: float = 1.0) -> None:
        """Read the keys again (on a lake's ingest node the primary's too, when read more than
        ``lake_after`` seconds ago: a stream of unknown keys cannot force a read each)."""
        con = self.store.cursor()
        try:
            rows = con.execute(
                "select secret_hash, key_id, name, scope, created_at, revoked_at from api_keys"
            ).fetchall()
        finally:
            con.close()
        if self._lake is not None:  # the primary's write keys, then this node's own
            from empatia.store.lake import primary_keys

            if time.monotonic() - self._read_at >= lake_after:
                self._lake_rows = [r for r in primary_keys(self._lake) if r[3] == "write"]
                self._read_at = time.monotonic()
            rows = self._lake_rows + rows
        with self._lock:
            self._by_hash = {r[0]: ApiKey(*r[1:]) for r in rows} | self._ephemeral

    def add_ephemeral(self, secret_hash: str, name: str, scope: str) -> None:
        """A key that lives only as long as this process (the server's local admin key)."""
        with self._lock:
            self._ephemeral[secret_hash] = ApiKey("local", name, scope)
            self._by_hash.update(self._ephemeral)

    def knows(self, secret_hash: str) -> bool:
        """Whether this ring holds the key (refreshing once when it does not)."""
        if secret_hash in self._by_hash:
            return True
        self.refresh()
        return secret_hash in self._by_hash

    def authenticate(self, secret: str | None, needed: str) -> ApiKey:
        if not secret:
            raise AuthError(
                "no key: send your write key as the HTTP basic-auth user name "
                "(or `writeKey` in the body)"
            )
        h = hash_secret(secret)
        if self._lake is not None and time.monotonic() - self._read_at > LAKE_KEYS_TTL:
            self.refresh(lake_after=0.0)  # a revocation at the primary reaches this node
        key = self._by_hash.get(h)
        if key is None:
            self.refresh()
            key = self._by_hash.get(h)
        if key is None:
            raise AuthError("unknown key; create one with `empatia keys create`")
        if key.revoked_at is not None:
            raise AuthError(f"key {key.key_id} was revoked", key_id=key.key_id)
        if not key.allows(needed):
            raise ForbiddenError(
                f"key {key.key_id} has scope {key.scope!r}; this needs {needed!r}",
                key_id=key.key_id,
            )
        return key
