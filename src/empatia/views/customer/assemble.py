"""Putting the 360 together: the lookups side by side, then what needs their results.

>>> display_name({"first_name": "Ada", "last_name": None}, "p_1"), display_name(None, "p_1")
('Ada', 'p_1')
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from empatia.errors import NotFoundError
from empatia.views.customer import queries as q
from empatia.views.customer.events import events_and_texts, older_events, row_of, texts
from empatia.views.customer.models import (
    MAX_EVENTS,
    TIMELINE_ROWS,
    ContactsPage,
    Customer360,
    Cursor,
    Identity,
    Order,
    TimelineRow,
)
from empatia.views.customer.viewer import Viewer, masked, timeline_row
from empatia.views.sections import Section, Tables, guarded
from empatia.views.timeline import build_timeline, older_cursor, purchases

if TYPE_CHECKING:
    from empatia.store import Store
    from empatia.workspace import Workspace

R = TypeVar("R")


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

    f_events = pool.submit(_on_cursor, st, events_and_texts, t, pid, st)
    f_profile = pool.submit(_on_cursor, st, row_of, t, "profiles", "*", pid)
    f_active = pool.submit(_on_cursor, st, row_of, t, "experience_activity",
                           "p_active, driver, drivers", pid)  # fmt: skip
    later = {"identity": section("identity", q.identity, viewer),
             "service": section("service", q.service), "decision": section("decision", q.decision),
             "care": section("care", q.care), "trajectory": section("trajectory", q.trajectory)}  # fmt: skip
    events, found = f_events.result()
    profile, active = f_profile.result(), f_active.result()
    timeline, older, pending = _timeline(events, found, viewer)
    done = {k: f.result() for k, f in later.items()}
    summary = done["trajectory"]
    identity: Section[Identity] = done["identity"]
    if not (profile or events or (identity.data and identity.data.identifiers)):
        raise NotFoundError(f"no person {pid} in this workspace; find people by any identifier"
                            " with `empatia profile ID`", person_id=pid)  # fmt: skip
    return Customer360(
        person_id=pid, name=display_name(profile, pid), profile=masked(profile, viewer),
        welcome=guarded("welcome", lambda: q.welcome(t, profile, events, active)),
        consent=guarded("consent", lambda: q.consent(st, t, pid)),
        purchases=guarded("purchases", lambda: [Order(**o) for o in purchases(events)]),
        timeline=timeline, older=older, events_shown=len(events),
        events_cut=len(events) >= MAX_EVENTS, pending_texts=pending,
        emotion=guarded("emotion", lambda: q.emotion(t, found, summary.data if summary.ok else None,
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
            events = older_events(cur, person_id, before)
        found = texts(cur, t, [e["seq"] for e in events])
        profile = row_of(cur, t, "profiles", "*", person_id)
    finally:
        cur.close()
    if before is None and not (profile or events):
        raise NotFoundError(f"no person {person_id} in this workspace", person_id=person_id)
    timeline, older, _ = _timeline(events, found, viewer)
    return ContactsPage(person_id, display_name(profile, person_id), before, timeline, older)


def display_name(profile: dict[str, Any] | None, person_id: str) -> str:
    """First and last name, else the person id."""
    if profile:
        name = " ".join(p for p in (profile.get("first_name"), profile.get("last_name")) if p)
        if name:
            return name
    return person_id


def _timeline(events: list[dict[str, Any]], found: dict[int, dict[str, Any]], viewer: Viewer
              ) -> tuple[Section[list[TimelineRow]], Cursor | None, int]:  # fmt: skip
    """The first :data:`TIMELINE_ROWS` rows (typed, words dropped unless the viewer may read
    them), where the older ones start, and how many texts are not analysed yet."""
    built = guarded("timeline", lambda: build_timeline(events, found))
    rows: list[dict[str, Any]] = (built.data or []) if built.ok else []
    pending = sum(1 for r in rows if (r.get("words") or {}).get("pending"))
    older = older_cursor(events, rows, TIMELINE_ROWS, len(events) >= MAX_EVENTS)
    if built.ok:
        built = Section(True, [timeline_row(r, viewer) for r in rows[:TIMELINE_ROWS]])
    return built, _cursor(older), pending


def _cursor(c: dict[str, Any] | None) -> Cursor | None:
    return Cursor(datetime.fromisoformat(c["before"]), int(c["seq"])) if c else None


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
