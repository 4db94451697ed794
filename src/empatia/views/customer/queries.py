"""The 360's sections, one function each: the stage's rows for one person, typed.

A section whose stage has not run raises :class:`~empatia.views.exceptions.NotProducedError`
(through :meth:`~empatia.views.sections.Tables.need`); the caller runs each one
:func:`~empatia.views.sections.guarded`, so it becomes the section's message and one failing
section never takes the others down.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from empatia.decide.api import item_names
from empatia.privacy.consent import ConsentState, current
from empatia.views.customer.events import row_of
from empatia.views.customer.models import (
    Care,
    CareAlert,
    CareListing,
    Decision,
    Emotion,
    Identifier,
    Identity,
    Journey,
    Merge,
    Service,
    TextScore,
    Trajectory,
    Welcome,
)
from empatia.views.customer.viewer import Viewer, mask
from empatia.views.sections import Section, Tables, one, records

if TYPE_CHECKING:
    from empatia.store import Store


def pending_note(n: int) -> str:
    """What to say about texts the emotion stage has not analysed yet.

    >>> pending_note(3)
    '3 messages not analysed yet — run `empatia run`.'
    """
    return f"{n} message{'s' if n != 1 else ''} not analysed yet — run `empatia run`."


def welcome(t: Tables, profile: dict[str, Any] | None, events: list[dict[str, Any]],
            active: dict[str, Any] | None) -> Section[Welcome]:  # fmt: skip
    if profile is None:
        t.need("profiles", "profiles")
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


def consent(store: Store, t: Tables, pid: str) -> Section[list[ConsentState]]:
    t.need("privacy", "consent_current", rows=False)
    return Section(True, list(current(store, pid).values()))


def identity(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str,
             viewer: Viewer) -> Section[Identity]:  # fmt: skip
    t.need("identity", "identities", rows=False)
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


def trajectory(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section[Trajectory]:
    cols = ", ".join(f.name for f in fields(Trajectory))
    row = row_of(cur, t, "experience_trajectories", cols, pid)
    return Section(True, Trajectory(**row) if row else None)


def emotion(t: Tables, texts: dict[int, dict[str, Any]], summary: Trajectory | None,
            pending: int = 0) -> Section[Emotion]:  # fmt: skip
    if not t.has("text_analysis") or not texts:
        if pending:
            return Section.missing(pending_note(pending))
        t.need("emotion", "text_analysis", rows=False)
        return Section.missing("No words from this person have been analysed (none written, "
                               "or the emotion stage has not reached them).")  # fmt: skip
    points = sorted(texts.values(), key=lambda r: (r["timestamp"], r["seq"]))
    return Section(True, Emotion([TextScore(**p) for p in points], summary,
                                 pending_note(pending) if pending else None))  # fmt: skip


def service(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section[Service]:
    t.need("experience", "experience_journeys", rows=False)
    rows = [Journey(**r) for r in records(cur.execute(
        f"select {', '.join(f.name for f in fields(Journey))} from experience_journeys"
        " where person_id = ? order by coalesce(resolved, false), last_at desc limit 12", [pid]))]  # fmt: skip
    return Section(True, Service([r for r in rows if not r.resolved],
                                 [r for r in rows if r.resolved][:3]))  # fmt: skip


def decision(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section[Decision]:
    t.need("decide", "decisions", rows=False)
    row = one(cur.execute(
        "select action, kind, channel, items, reason, policy, fallback, expires_at, decided_at,"
        " scores from decisions where person_id = ?", [pid]))  # fmt: skip
    if row is None:
        t.need("decide", "decisions")
        return Section.missing("No decision for this person yet: run `empatia decide --all`.")
    for k in ("items", "policy", "scores"):
        if isinstance(row[k], str):
            row[k] = orjson.loads(row[k])
    row["item_names"] = item_names(row["items"], row.pop("scores"))
    return Section(True, Decision(**row))


def care(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section[Care]:
    if not (t.has("care_list") and t.has("care_alerts")):
        t.need("care", "care_list", "care_alerts")  # says which one is missing (or empty)
    listed = one(cur.execute(
        f"select {', '.join(f.name for f in fields(CareListing))} from care_list"
        " where person_id = ?", [pid]))  # fmt: skip
    alert = one(cur.execute(
        f"select {', '.join(f.name for f in fields(CareAlert))} from care_alerts"
        " where person_id = ? order by created_at desc, alert_id desc limit 1", [pid]))  # fmt: skip
    return Section(True, Care(CareListing(**listed) if listed else None,
                              CareAlert(**alert) if alert else None))  # fmt: skip
