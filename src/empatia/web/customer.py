"""The customer 360 (S9): who this is, what they bought, every contact and how they feel.

Everything is read for one person in one pass over their events (``event_persons`` →
``events``) plus point lookups in the stages' tables; each section says plainly when its
stage has not run yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import datetime
from typing import Any, cast

import duckdb
import orjson

from empatia.decide.api import item_names
from empatia.web import charts
from empatia.web.person_index import index_for
from empatia.web.sections import Section, Tables, guarded, one, records
from empatia.web.timeline import build_timeline, older_cursor, purchases

#: Most events read for one person (the newest); a timeline longer than that is cut, and says so.
MAX_EVENTS = 3000
#: Rows of the contact timeline shown on one page; older ones are a "show older" link away.
TIMELINE_ROWS = 150


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


def person_events(
    cur: duckdb.DuckDBPyConnection, person_id: str, store: Any = None
) -> list[dict[str, Any]]:
    """The person's events, newest first (at most :data:`MAX_EVENTS`)."""
    seqs = index_for(store).seqs(cur, person_id, MAX_EVENTS) if store is not None else None
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


def older_events(cur: duckdb.DuckDBPyConnection, person_id: str, before: datetime, seq: int,
                 limit: int = MAX_EVENTS) -> list[dict[str, Any]]:  # fmt: skip
    """The person's events older than the event ``(before, seq)``, newest first."""
    cur.execute(
        'select seq, "timestamp", type, event, name, raw from events'
        " where seq in (select seq from event_persons where person_id = ?)"
        ' and ("timestamp" < ? or ("timestamp" = ? and seq < ?))'
        ' order by "timestamp" desc, seq desc limit ?',
        [person_id, before, before, seq, limit],
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


def _on_cursor(con: duckdb.DuckDBPyConnection, fn: Callable[..., Any], *args: Any) -> Any:
    cur = con.cursor()
    try:
        return fn(cur, *args)
    finally:
        cur.close()


def _events_and_texts(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str,
                      store: Any) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:  # fmt: skip
    events = person_events(cur, pid, store) if t.has("event_persons") else []
    return events, _texts(cur, t, [e["seq"] for e in events])


def customer_view(con: duckdb.DuckDBPyConnection, store: Any, person_id: str,
                  words_visible: bool, pool: Executor) -> dict[str, Any]:  # fmt: skip
    """Every section of one person's page; its lookups run side by side on ``pool`` (DuckDB
    releases the GIL while it scans)."""
    t = Tables(con.cursor())  # its cursor stays open for the rare emptiness checks
    pid = person_id

    def profile_of(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
        return (
            one(cur.execute("select * from profiles where person_id = ?", [pid]))
            if t.has("profiles")
            else None
        )

    def active_of(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
        if not t.has("experience_activity"):
            return None
        return one(cur.execute(
            "select p_active, driver, drivers from experience_activity where person_id = ?", [pid]
        ))  # fmt: skip

    def section(name: str, fn: Callable[..., Any], *args: Any) -> Future[Section]:
        return pool.submit(lambda: guarded(name, lambda: _on_cursor(con, fn, t, pid, *args)))

    f_events = pool.submit(_on_cursor, con, _events_and_texts, t, pid, store)
    f_profile = pool.submit(_on_cursor, con, profile_of)
    f_active = pool.submit(_on_cursor, con, active_of)
    later = {"identity": section("identity", _identity, words_visible),
             "service": section("service", _service), "decision": section("decision", _decision),
             "care": section("care", _care), "trajectory": section("trajectory", _trajectory_row)}  # fmt: skip
    events, texts = f_events.result()
    profile = f_profile.result()
    view: dict[str, Any] = {"person_id": pid, "profile": profile, "name": display_name(profile, pid),
                            "events_shown": len(events), "events_cut": len(events) >= MAX_EVENTS,
                            "rows_shown": TIMELINE_ROWS}  # fmt: skip
    active = f_active.result()
    view["welcome"] = guarded("welcome", lambda: _welcome(t, profile, events, active))
    view["consent"] = guarded("consent", lambda: _consent(store, t, pid))
    view["purchases"] = guarded("purchases", lambda: purchases(events))
    view["timeline"] = guarded("timeline", lambda: build_timeline(events, texts))
    rows = view["timeline"].data if view["timeline"].ok else []
    view["pending_texts"] = sum(1 for r in rows if (r.get("words") or {}).get("pending"))
    view["older"] = older_cursor(events, rows, TIMELINE_ROWS, view["events_cut"])
    done = {k: f.result() for k, f in later.items()}
    summary = done.pop("trajectory")
    view["emotion"] = guarded("emotion", lambda: _emotion(
        t, texts, summary.data if summary.ok else None, view["pending_texts"]))  # fmt: skip
    view.update(done)
    ident = view["identity"].data or {}
    view["known"] = bool(profile or events or ident.get("identifiers"))
    return view


def contacts_view(con: duckdb.DuckDBPyConnection, person_id: str, before: datetime,
                  seq: int) -> dict[str, Any]:  # fmt: skip
    """One page of a person's older contacts: those before the event ``(before, seq)``."""
    cur = con.cursor()
    try:
        t = Tables(cur)
        if not t.has("event_persons"):
            events: list[dict[str, Any]] = []
        else:
            events = older_events(cur, person_id, before, seq)
        texts = _texts(cur, t, [e["seq"] for e in events])
        profile = one(cur.execute("select * from profiles where person_id = ?", [person_id])
                      ) if t.has("profiles") else None  # fmt: skip
    finally:
        cur.close()
    view: dict[str, Any] = {"person_id": person_id, "name": display_name(profile, person_id),
                            "rows_shown": TIMELINE_ROWS, "before": before,
                            "known": bool(profile or events)}  # fmt: skip
    view["timeline"] = guarded("timeline", lambda: build_timeline(events, texts))
    rows = view["timeline"].data if view["timeline"].ok else []
    view["older"] = older_cursor(events, rows, TIMELINE_ROWS, len(events) >= MAX_EVENTS)
    return view


def display_name(profile: dict[str, Any] | None, person_id: str) -> str:
    if profile:
        name = " ".join(p for p in (profile.get("first_name"), profile.get("last_name")) if p)
        if name:
            return name
    return person_id


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


def _identity(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str, visible: bool) -> Section:
    if not t.has("identities"):
        return t.need("identity", "identities")
    ids = records(cur.execute(
        "select kind, value from identities where person_id = ? order by kind, value", [pid]))  # fmt: skip
    for i in ids:
        i["shown"] = i["value"] if visible else mask(i["kind"], i["value"])
    merges = []
    if t.has("merge_history"):
        merges = records(cur.execute(
            "select merged_at, action, person_id, other_person_id, identifiers, reason, evidence"
            " from merge_history where person_id = ? or other_person_id = ?"
            " order by merged_at desc limit 20", [pid, pid]))  # fmt: skip
        if not visible:
            for m in merges:
                m["evidence"] = None
    kinds = Counter(i["kind"] for i in ids)
    return Section(True, {"identifiers": ids, "merges": merges, "kinds": dict(kinds)})


def _welcome(t: Tables, profile: dict[str, Any] | None, events: list[dict[str, Any]],
             active: dict[str, Any] | None = None) -> Section:  # fmt: skip
    """Who they are to us; "still active" is the experience stage's (the purchase rhythm moved
    by what they said and went through) when it has run, else the purchase model's."""
    if profile is None:
        if not t.filled("profiles"):
            return t.need("profiles", "profiles")
        return Section.missing("This person has no profile row yet: run `empatia run`.")
    as_of: datetime | None = profile.get("as_of")
    first, last = profile.get("first_seen"), profile.get("last_seen")
    facts = {
        "tenure_days": (as_of - first).total_seconds() / 86400 if as_of and first else None,
        "since_last_days": (as_of - last).total_seconds() / 86400 if as_of and last else None,
        "channels": [c for c in (profile.get("channels") or "").split(",") if c],
        "last_event": events[0] if events else None,
        "p_active": (active or {}).get("p_active"),
        "active_driver": (active or {}).get("driver"),
    }
    return Section(True, {**profile, **facts})


def _consent(store: Any, t: Tables, pid: str) -> Section:
    if not t.has("consent_current"):
        return t.need("privacy", "consent_current")
    from empatia.privacy.consent import current

    states = current(store, pid)
    return Section(True, [{"purpose": p, "granted": s.granted, "decided_at": s.decided_at,
                           "source": s.source, "legal_basis": s.legal_basis}
                          for p, s in states.items()])  # fmt: skip


def _trajectory_row(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> dict[str, Any] | None:
    if not t.has("experience_trajectories"):
        return None
    return one(cur.execute("select * from experience_trajectories where person_id = ?", [pid]))


def pending_note(n: int) -> str:
    """What to say about texts the emotion stage has not analysed yet.

    >>> pending_note(3)
    '3 messages not analysed yet — run `empatia run`.'
    """
    return f"{n} message{'s' if n != 1 else ''} not analysed yet — run `empatia run`."


def _emotion(t: Tables, texts: dict[int, dict[str, Any]], summary: dict[str, Any] | None,
             pending: int = 0) -> Section:  # fmt: skip
    if not t.has("text_analysis"):
        if pending:
            return Section.missing(pending_note(pending))
        return t.need("emotion", "text_analysis")
    if not texts:
        if pending:
            return Section.missing(pending_note(pending))
        return Section.missing("No words from this person have been analysed (none written, "
                               "or the emotion stage has not reached them).")  # fmt: skip
    points = sorted(texts.values(), key=lambda r: (r["timestamp"], r["seq"]))
    spec = charts.trajectory(points)
    return Section(True, {"points": points, "summary": summary, "spec": spec,
                          "pending": pending_note(pending) if pending else None})  # fmt: skip


def _service(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section:
    if not t.has("experience_journeys"):
        return t.need("experience", "experience_journeys")
    rows = records(cur.execute(
        "select case_id, topic, first_at, last_at, contacts, steps, channel_path, transfers,"
        " wait_seconds, resolved, resolution, internal_success, effort_score, succeeded_but_hurt,"
        " hurt_reasons, unresolved_age_days, resolution_days, last_score"
        " from experience_journeys where person_id = ?"
        " order by coalesce(resolved, false), last_at desc limit 12", [pid]))  # fmt: skip
    return Section(True, {"open": [r for r in rows if not r["resolved"]],
                          "recent": [r for r in rows if r["resolved"]][:3]})  # fmt: skip


def _decision(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section:
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
    return Section(True, row)


def _care(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str) -> Section:
    if not (t.has("care_list") and t.has("care_alerts")):
        return t.need("care", "care_list", "care_alerts")
    listed = one(cur.execute(
        "select rank, score, influence, risk, value, explanation, status, alert_id, computed_at"
        " from care_list where person_id = ?", [pid]))  # fmt: skip
    alert = one(cur.execute(
        "select alert_id, kind, status, score, explanation, created_at from care_alerts"
        " where person_id = ? order by created_at desc, alert_id desc limit 1", [pid]))  # fmt: skip
    return Section(True, {"listed": listed, "alert": alert})
