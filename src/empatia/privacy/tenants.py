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
from pathlib import Path
from typing import Any, TypeVar

from empatia.errors import AuthError, ForbiddenError, ValidationError
from empatia.ingest.event import Row
from empatia.ingest.writer import EventWriter
from empatia.privacy.keys import ApiKey, KeyRing, hash_secret
from empatia.privacy.tombstones import TombstoneSet
from empatia.store import Store
from empatia.workspace import Workspace

T = TypeVar("T")
#: Files of a store that no server path may name (``<db>``, its WAL, the server-info file).
_STORE_FILES = (".duckdb", ".wal", ".server.json", ".rewrite")

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
        >>> t.confine(t.single, "events.jsonl", "the file") == d / "events.jsonl"
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
