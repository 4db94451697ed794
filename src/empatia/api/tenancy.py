"""The workspaces one server serves, each with its own store, keys, writer and threads.

A key belongs to one workspace (it is stored in that workspace's store); the server finds the
workspace from the key the caller presents, so a key can never reach another workspace's
data. The app factory builds one :class:`Tenants`, opens it when the server starts and closes
it when it stops; routes get the caller's :class:`Tenant` (or just its workspace or writer)
through the dependencies in :mod:`empatia.api.deps`.

>>> from empatia.privacy.keys import create_key
>>> ws = Workspace(db=":memory:")
>>> _, secret = create_key(ws.store, "read", "bi")
>>> tenants = Tenants({"shop": ws})
>>> tenants.open()
>>> tenant, key = tenants.authenticate(secret, "read")
>>> tenant.name, key.scope
('shop', 'read')
>>> tenants.close()
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from empatia.api.writer import IdentityFollower, PrivacyWriter
from empatia.errors import AuthError, ForbiddenError, StoreError, ValidationError
from empatia.privacy.consent import ensure_view as ensure_consent_view
from empatia.privacy.keys import ApiKey, KeyRing, hash_secret
from empatia.privacy.tombstones import TombstoneSet
from empatia.remote import server_info_path
from empatia.views import person_index
from empatia.workspace import Workspace

if TYPE_CHECKING:
    from empatia.decide.realtime import RealTime

log = logging.getLogger(__name__)
#: Files of a store that no server path may name (``<db>``, its WAL, the server-info file).
_STORE_FILES = (".duckdb", ".wal", ".server.json", ".rewrite")


class Tenant:
    """One served workspace and what the server runs for it while it is open: its keys, its
    erased people, its writer (all writes go through it), the identity follower behind the
    writer and, once ``/v1/decide`` first asks, decide's real-time state."""

    keyring: KeyRing
    tombstones: TombstoneSet
    writer: PrivacyWriter

    def __init__(self, name: str, workspace: Workspace) -> None:
        self.name, self.workspace = name, workspace
        self._follower: IdentityFollower | None = None
        self._writer: PrivacyWriter | None = None
        self._realtime: RealTime | None = None
        self._realtime_lock = threading.Lock()
        self._closed = False
        self._info: Path | None = None

    def open(self, advertise: str | None = None) -> None:
        """Start the writer and its follower; ``advertise`` (the server's URL) also writes
        ``<db>.server.json`` (mode 0600) with a per-run admin secret for the local CLI."""
        store = self.workspace.store
        with self._realtime_lock:  # an app may be started again after it stopped
            self._closed, self._realtime = False, None
        store.con.execute("set checkpoint_threshold = '1GB'")  # checkpoint when quiet
        ensure_consent_view(store)  # consent given under an id reaches the stitched person
        #: On a lake's ingest node, the primary store's path: results are there, not here.
        self.primary_elsewhere: str | None = None
        if store.lake is not None:  # a server sends events: it owns a lake nobody owns yet
            from empatia.store.lake import is_primary

            with store.lock:
                if not is_primary(store.con, store.lake, claim=True):
                    self.primary_elsewhere = store.lake.claim("", "")[1]
        self._follower = IdentityFollower.for_store(store, self.workspace.settings.stages.identity)
        if store.lake is not None:  # what was acknowledged before a stop goes to the lake now
            self._follower()
        self.keyring = KeyRing(store)
        self.tombstones = TombstoneSet(store)
        self.writer = self._writer = PrivacyWriter(store, self.tombstones,
                                                   after_commit=self._follower)  # fmt: skip
        db = self.workspace.settings.db
        if advertise and str(db) != ":memory:":
            admin_secret = "emp_admin_" + secrets.token_urlsafe(24)
            self.keyring.add_ephemeral(hash_secret(admin_secret), "server-local", "admin")
            self._info = server_info_path(db)
            fd = os.open(self._info, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps({"url": advertise, "pid": os.getpid(), "token": admin_secret}))

    def realtime(self) -> RealTime:
        """Decide's real-time state for this workspace, started on first use (it reads every
        consent and keeps a thread refreshing them: a server that never decides pays
        nothing) and closed with the tenant."""
        rt = self._realtime
        if rt is not None:  # the hot path: no lock
            return rt
        with self._realtime_lock:
            if self._closed:  # a request still running as the server stops: start nothing
                raise StoreError("the server is stopping; try again once it is back",
                                 workspace=self.name)  # fmt: skip
            if self._realtime is None:
                from empatia.decide.realtime import RealTime

                self._realtime = RealTime(self.workspace.store)
            return self._realtime

    @property
    def realtime_started(self) -> bool:
        return self._realtime is not None

    def close(self) -> None:
        """Stop what :meth:`open` started (flushing what is queued), then checkpoint."""
        try:
            with self._realtime_lock:
                self._closed = True
                if self._realtime is not None:
                    self._realtime.close()
                    self._realtime = None
            if self._follower is not None:
                self._follower.close()
                self._follower = None
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if self.workspace.store.lake is not None:  # the last acknowledged events, sent now
                from empatia.ingest.nodes import ship

                try:
                    with self.workspace.store.lock:
                        ship(self.workspace.store)
                except Exception:  # noqa: BLE001 - they stay in the store, sent at the next start
                    log.warning("sending the last events to the lake failed", exc_info=True)
        finally:
            if self._info is not None:
                self._info.unlink(missing_ok=True)
            try:
                person_index.wait_for(self.workspace.store)  # a 360 page's index build
                self.workspace.store.release_cursors()  # request threads are done
                self.workspace.store.checkpoint()
            except Exception:  # noqa: BLE001
                log.warning("checkpoint at shutdown failed")


class Tenants:
    """The workspaces this server serves, found by key."""

    def __init__(self, workspaces: Mapping[str, Workspace]) -> None:
        if not workspaces:
            raise ValueError("serve at least one workspace")
        self.by_name = {n: Tenant(n, ws) for n, ws in workspaces.items()}
        self.first = next(iter(self.by_name.values()))

    @property
    def single(self) -> Tenant | None:
        return self.first if len(self.by_name) == 1 else None

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self.by_name.values())

    def open(self, advertise: str | None = None) -> None:
        """Open every workspace; if one fails, those already open are closed again."""
        opened: list[Tenant] = []
        try:
            for tenant in self:
                opened.append(tenant)
                tenant.open(advertise)
        except BaseException:
            for tenant in reversed(opened):
                try:
                    tenant.close()
                except Exception:  # noqa: BLE001 - the first error is the one to see
                    log.warning("closing workspace %s after a failed start failed", tenant.name)
            raise

    def close(self) -> None:
        errors = []
        for tenant in self:
            try:
                tenant.close()
            except Exception as e:  # noqa: BLE001 - close the others, then say so
                errors.append(e)
        if errors:
            raise errors[0]

    def for_secret(self, secret: str | None) -> Tenant:
        """The workspace a key belongs to (the only one when there is one)."""
        one = self.single
        if one is not None:
            return one
        if not secret:
            raise AuthError("no key: every request names its workspace through its key")
        h = hash_secret(secret)
        for t in self.by_name.values():
            if t.keyring.knows(h):
                return t
        raise AuthError("unknown key; create one with `empatia keys create`")

    def authenticate(self, secret: str | None, needed: str) -> tuple[Tenant, ApiKey]:
        """The key's workspace and the key, which must allow ``needed`` (else 401/403)."""
        tenant = self.for_secret(secret)
        return tenant, tenant.keyring.authenticate(secret, needed)

    def folder(self, tenant: Tenant) -> Path:
        """The folder a workspace's server-side paths must stay in: the one holding its store.

        Fails closed: an in-memory store has none, and a folder holding (or inside the folder
        of) another served workspace's store is no boundary, so both refuse every path.
        """
        db = str(tenant.workspace.settings.db)
        if db == ":memory:":
            raise ForbiddenError("this workspace has no folder (in-memory store): upload the "
                                 "file as the request body instead of naming a server path")  # fmt: skip
        mine = Path(db).resolve().parent
        for other in self:
            theirs = str(other.workspace.settings.db)
            if other is tenant or theirs == ":memory:":
                continue
            there = Path(theirs).resolve().parent
            if there.is_relative_to(mine) or mine.is_relative_to(there):
                raise ForbiddenError(
                    f"workspaces {tenant.name!r} and {other.name!r} share the folder {mine}: "
                    "server paths are refused; give each workspace its own folder, or upload",
                    folder=str(mine),
                )
        return mine

    def confine(self, tenant: Tenant, path: str, what: str) -> Path:
        """``path`` (relative ones start at the workspace folder), refused unless it resolves
        (symlinks and ``..`` followed) inside the workspace's folder and is not a store file.

        >>> import tempfile; d = Path(tempfile.mkdtemp()).resolve()
        >>> t = Tenants({"a": Workspace(db=d / "a.duckdb")})
        >>> t.confine(t.first, "events.jsonl", "the file") == d / "events.jsonl"
        True
        """
        if "\0" in path:
            raise ValidationError(f"{what} {path!r} holds a NUL character")
        folder = self.folder(tenant)
        real = (folder / path).resolve()  # an absolute path replaces the folder
        if not real.is_relative_to(folder):
            raise ForbiddenError(
                f"{what} {path} is outside this workspace's folder {folder}; use a path inside "
                "it, or upload the file as the request body",
                folder=str(folder),
            )
        if real.name.endswith(_STORE_FILES) or real.name.startswith(
            Path(str(tenant.workspace.settings.db)).name
        ):
            raise ForbiddenError(f"{what} {path} is a store file; choose another name",
                                 folder=str(folder))  # fmt: skip
        return real
