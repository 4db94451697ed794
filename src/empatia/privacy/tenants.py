"""Several workspaces in one server, each with its own store, keys and writer.

A key belongs to one workspace (it is stored in that workspace's store); the server finds the
workspace from the key the caller presents, so a key can never reach another workspace's
data. Routes get the caller's workspace from ``WorkspaceDep``; code that reads
``app.state.workspace``, ``app.state.writer`` or ``app.state.keyring`` directly gets the
caller's too (thin proxies following the request's workspace), so single-workspace code
works unchanged.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from empatia.errors import AuthError
from empatia.ingest.event import Row
from empatia.ingest.writer import EventWriter
from empatia.privacy.keys import ApiKey, KeyRing, hash_secret
from empatia.privacy.tombstones import TombstoneSet
from empatia.store import Store
from empatia.workspace import Workspace

T = TypeVar("T")

CURRENT: contextvars.ContextVar[Tenant | None] = contextvars.ContextVar(
    "empatia_tenant", default=None
)


class PrivacyWriter(EventWriter):
    """The event writer, dropping events of erased people before they are stored, and
    reading consent from new events right after their commit (no wait for ``empatia run``)."""

    def __init__(self, store: Store, tombstones: TombstoneSet,
                 after_commit: Callable[[], None] | None = None) -> None:  # fmt: skip
        self._waiting: list[tuple[Future[int], int]] = []
        self._then = after_commit
        super().__init__(store, after_commit=self._after_commit)
        self.tombstones = tombstones

    def submit(self, rows: list[Row]) -> Future[int]:
        rows = self.tombstones.filter(rows)
        inner = super().submit(rows)
        if not any(r.event == "Consent Updated" or '"consent"' in r.raw for r in rows):
            return inner
        # Answer only once the consent is readable: after the post-commit step below.
        outer: Future[int] = Future()

        def committed(f: Future[int]) -> None:
            if f.exception() is not None:
                outer.set_exception(f.exception())  # type: ignore[arg-type]
            elif threading.current_thread().name == "empatia-writer":
                self._waiting.append((outer, f.result()))  # answered by _after_commit
            else:  # committed before this callback was attached: read consent on the writer
                self.call(lambda: self._read_then(outer, f.result()))

        inner.add_done_callback(committed)
        return outer

    def _read_then(self, outer: Future[int], n: int) -> None:
        from empatia.privacy.stage import read_consent

        try:
            read_consent(self.store)
        finally:
            outer.set_result(n)

    def _after_commit(self) -> None:
        try:
            if self._then is not None:
                self._then()
        finally:
            waiting, self._waiting = self._waiting, []
            try:
                if waiting:
                    from empatia.privacy.stage import read_consent

                    read_consent(self.store)
            finally:
                for fut, n in waiting:
                    fut.set_result(n)


@dataclass
class Tenant:
    name: str
    workspace: Workspace
    keyring: KeyRing = field(init=False)
    tombstones: TombstoneSet = field(init=False)
    writer: PrivacyWriter = field(init=False)

    def open(self, after_commit: Callable[[], None] | None = None) -> None:
        store = self.workspace.store
        self.keyring = KeyRing(store)
        self.tombstones = TombstoneSet(store)
        self.writer = PrivacyWriter(store, self.tombstones, after_commit=after_commit)

    def close(self) -> None:
        self.writer.close()


class Tenants:
    """The workspaces this server serves, found by key."""

    def __init__(self, workspaces: Mapping[str, Workspace]) -> None:
        if not workspaces:
            raise ValueError("serve at least one workspace")
        self.by_name = {n: Tenant(n, ws) for n, ws in workspaces.items()}

    @property
    def single(self) -> Tenant | None:
        return next(iter(self.by_name.values())) if len(self.by_name) == 1 else None

    def __iter__(self) -> Any:
        return iter(self.by_name.values())

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

    def current(self) -> Tenant:
        t = CURRENT.get()
        if t is not None:
            return t
        one = self.single
        if one is None:
            raise AuthError("no key: every request names its workspace through its key")
        return one


class KeyRouter:
    """``app.state.keyring``: authenticates against the key's own workspace."""

    def __init__(self, tenants: Tenants) -> None:
        self.tenants = tenants

    def authenticate(self, secret: str | None, needed: str) -> ApiKey:
        tenant = self.tenants.for_secret(secret)
        key = tenant.keyring.authenticate(secret, needed)
        CURRENT.set(tenant)
        return key

    def refresh(self) -> None:
        self.tenants.current().keyring.refresh()

    def add_ephemeral(self, secret_hash: str, name: str, scope: str) -> None:
        self.tenants.current().keyring.add_ephemeral(secret_hash, name, scope)


class WriterRouter:
    """``app.state.writer``: the writer of the caller's workspace."""

    def __init__(self, tenants: Tenants) -> None:
        self.tenants = tenants

    def submit(self, rows: Sequence[Row]) -> Future[int]:
        return self.tenants.current().writer.submit(list(rows))

    def call(self, fn: Callable[[], T]) -> Future[T]:
        return self.tenants.current().writer.call(fn)

    def close(self) -> None:
        for t in self.tenants:
            t.close()


class CurrentProxy:
    """Delegates attribute access to the caller's workspace (or its settings).

    Settings are read before the key is (request size limits): until the request is bound to
    a workspace, the first workspace's settings answer.
    """

    def __init__(self, tenants: Tenants, attr: str | None = None) -> None:
        object.__setattr__(self, "_tenants", tenants)
        object.__setattr__(self, "_attr", attr)

    def _target(self) -> Any:
        t = CURRENT.get()
        if t is None and self._attr == "settings":
            t = next(iter(self._tenants))
        ws = (t or self._tenants.current()).workspace
        return getattr(ws, self._attr) if self._attr else ws

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)
