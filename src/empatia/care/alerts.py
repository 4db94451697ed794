"""Alerts: who entered the special-care list or got worse, and what people did about it.

A *change* is identified by the person, the kind (``entered`` / ``worsened``) and the newest
event behind the evidence (``last_seq``); its idempotency key is a hash of the three. Re-running
the stage over the same events finds the same keys and creates nothing; webhooks get each
key once (see :mod:`empatia.care.delivery`).

A person's *case* is their latest alert. ``open`` → ``acknowledged`` (someone is on it; the
person stays on the list and still alerts when worse) → ``resolved`` (they leave the list
until newer evidence than what was seen at resolution arrives; then they enter again).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb
import orjson

from empatia.care.config import CareWeights
from empatia.care.exceptions import AlertNotFoundError, AlertStateError

ACTIONS = ("acknowledged", "resolved")
ACTIVE = ("open", "acknowledged")


def idempotency_key(person_id: str, kind: str, last_seq: int | None) -> str:
    """The key of one change; the same change always gets the same key.

    >>> idempotency_key("P1", "entered", 42)[:12]
    'c700f41062ee'
    """
    return hashlib.sha256(f"{person_id}|{kind}|{last_seq}".encode()).hexdigest()


def latest_cases(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per person, their latest alert (the case) and the seq seen when it was last resolved."""
    rows = con.execute("""
        select a.person_id, a.alert_id, a.status, a.score, a.last_seq, r.resolved_seq
        from (select *, row_number() over (partition by person_id order by created_at desc,
                                                alert_id desc) as rn from care_alerts) a
        left join (select person_id, max(last_seq) as resolved_seq from care_acknowledgements
                   where action = 'resolved' group by person_id) r using (person_id)
        where a.rn = 1
    """).fetchall()
    return {r[0]: {"alert_id": r[1], "status": r[2], "score": r[3], "last_seq": r[4],
                   "resolved_seq": r[5]} for r in rows}  # fmt: skip


def resolved_and_quiet(case: dict[str, Any] | None, evidence_seq: int | None) -> bool:
    """A resolved case with nothing newer than what was seen at resolution: off the list."""
    if not case or case["status"] != "resolved":
        return False
    seen = case["resolved_seq"] if case["resolved_seq"] is not None else case["last_seq"]
    return evidence_seq is None or seen is None or evidence_seq <= seen


def decide(entry: dict[str, Any], case: dict[str, Any] | None, w: CareWeights) -> str | None:
    """``entered``, ``worsened`` or ``None`` (no change worth an alert) for one list entry."""
    if not case or case["status"] not in ACTIVE:
        return "entered"
    if entry["score"] >= case["score"] * w.alerts.worsen_ratio:
        return "worsened"
    new_threat = [
        s
        for s in entry.get("threat_seqs") or []
        if case["last_seq"] is None or s > case["last_seq"]
    ]
    if w.alerts.worsen_on_new_threat and new_threat:
        return "worsened"
    return None


def create_alerts(con: duckdb.DuckDBPyConnection, entries: Iterable[dict[str, Any]],
                  cases: dict[str, dict[str, Any]], w: CareWeights,
                  now: datetime | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Insert an alert for every entry that entered or worsened; return the new ones."""
    created = []
    for e in entries:
        case = cases.get(e["person_id"])
        kind = decide(e, case, w)
        if kind is None:
            e["alert_id"] = case["alert_id"] if case else None
            e["status"] = "acknowledged" if case and case["status"] == "acknowledged" else "new"
            continue
        key = idempotency_key(e["person_id"], kind, e["last_seq"])
        alert_id = "al_" + secrets.token_hex(6)
        prev = case["score"] if case and kind == "worsened" else None
        row = con.execute(
            """insert into care_alerts (alert_id, idempotency_key, person_id, kind, score,
                   previous_score, influence, risk, value, explanation, evidence, last_seq,
                   created_at)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, now()))
               on conflict (idempotency_key) do nothing returning alert_id""",
            [alert_id, key, e["person_id"], kind, e["score"], prev, e["influence"], e["risk"],
             e["value"], e["explanation"], orjson.dumps(e["evidence"]).decode(), e["last_seq"], now],
        ).fetchall()  # fmt: skip
        if not row:  # this change was already alerted (a re-run)
            existing = con.execute("select alert_id, status from care_alerts where idempotency_key = ?",
                                   [key]).fetchone()  # fmt: skip
            e["alert_id"] = existing[0] if existing else None
            e["status"] = "acknowledged" if existing and existing[1] == "acknowledged" else "new"
            continue
        if case and case["status"] in ACTIVE:
            con.execute("update care_alerts set status = 'superseded' where alert_id = ?",
                        [case["alert_id"]])  # fmt: skip
        e["alert_id"], e["status"] = alert_id, "new"
        created.append({"alert_id": alert_id, "idempotency_key": key, "kind": kind,
                        "previous_score": prev, **e})  # fmt: skip
    return created


def _target(
    con: duckdb.DuckDBPyConnection, alert_or_person: str
) -> tuple[str, str, str, int | None]:
    row = con.execute(
        "select alert_id, person_id, status, last_seq from care_alerts where alert_id = ?",
        [alert_or_person],
    ).fetchone()
    if row is None:  # a person id: their latest alert
        row = con.execute(
            "select alert_id, person_id, status, last_seq from care_alerts where person_id = ? "
            "order by created_at desc, alert_id desc limit 1", [alert_or_person],
        ).fetchone()  # fmt: skip
    if row is None:
        raise AlertNotFoundError(alert_or_person)
    return row[0], row[1], row[2], row[3]


def act(con: duckdb.DuckDBPyConnection, alert_or_person: str, action: str, note: str | None = None,
        actor: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Acknowledge or resolve a case (by alert id, or a person id for their latest alert)."""
    if action not in ACTIONS:
        raise AlertStateError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}",
                              action=action)  # fmt: skip
    alert_id, person_id, status, last_seq = _target(con, alert_or_person)
    if status == "superseded":
        alert_id, person_id, status, last_seq = _target(con, person_id)
    if status == "resolved":
        raise AlertStateError(f"alert {alert_id} is already resolved; new evidence reopens it",
                              alert_id=alert_id)  # fmt: skip
    if action == "acknowledged" and status == "acknowledged":
        pass  # a second note is fine
    seen = last_seq
    if action == "resolved":
        row = con.execute(
            "select max(last_seq) from care_list where person_id = ?", [person_id]
        ).fetchone()
        if row and row[0] is not None:
            seen = max(int(row[0]), last_seq or 0)
    con.execute("update care_alerts set status = ? where alert_id = ?", [action, alert_id])
    con.execute(
        "insert into care_acknowledgements (alert_id, person_id, action, note, actor, last_seq) "
        "values (?, ?, ?, ?, ?, ?)", [alert_id, person_id, action, note, actor, seen],
    )  # fmt: skip
    if action == "resolved":
        con.execute("delete from care_list where person_id = ?", [person_id])
    else:
        con.execute("update care_list set status = 'acknowledged' where person_id = ?", [person_id])
    return {"alert_id": alert_id, "person_id": person_id, "status": action, "note": note}


def acknowledge(con: duckdb.DuckDBPyConnection, alert_or_person: str, note: str | None = None,
                actor: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Someone is on it: the person stays on the list, marked acknowledged."""
    return act(con, alert_or_person, "acknowledged", note, actor)


def resolve(con: duckdb.DuckDBPyConnection, alert_or_person: str, note: str | None = None,
            actor: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Done: the person leaves the list until something new happens."""
    return act(con, alert_or_person, "resolved", note, actor)


def history(con: duckdb.DuckDBPyConnection, person_id: str) -> list[dict[str, Any]]:
    """Every alert and action for one person, oldest first."""
    cur = con.execute("""
        select 'alert' as what, alert_id, kind as action, status, score, null as note, null as actor,
               created_at as "at" from care_alerts where person_id = ?
        union all
        select 'action', alert_id, action, null, null, note, actor, acted_at
        from care_acknowledgements where person_id = ?
        order by 8""", [person_id, person_id])  # fmt: skip
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
