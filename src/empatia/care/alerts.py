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
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import orjson
import pyarrow as pa

from empatia.care.config import CareWeights
from empatia.care.exceptions import AlertNotFoundError, AlertStateError

if TYPE_CHECKING:  # the batch run's part needs Ibis; acknowledging an alert does not
    import ibis.expr.types as ir

    from empatia.store.engine import Engine

ACTIONS = ("acknowledged", "resolved")
ACTIVE = ("open", "acknowledged")


def idempotency_key(person_id: str, kind: str, last_seq: int | None) -> str:
    """The key of one change; the same change always gets the same key.

    >>> idempotency_key("P1", "entered", 42)[:12]
    'c700f41062ee'
    """
    return hashlib.sha256(f"{person_id}|{kind}|{last_seq}".encode()).hexdigest()


#: The columns of ``care_alerts`` the stage writes.
ALERT_SCHEMA = pa.schema([
    ("alert_id", pa.string()), ("idempotency_key", pa.string()), ("person_id", pa.string()),
    ("kind", pa.string()), ("score", pa.float64()), ("previous_score", pa.float64()),
    ("influence", pa.float64()), ("risk", pa.float64()), ("value", pa.float64()),
    ("explanation", pa.string()), ("evidence", pa.string()), ("last_seq", pa.int64()),
    ("status", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
])  # fmt: skip


def cases_expr(eng: Engine) -> ir.Table:
    """Per person, their latest alert (the case) and the seq seen when it was last resolved."""
    import ibis
    from ibis import _

    a = eng.table("care_alerts")
    w = ibis.window(group_by="person_id", order_by=[a.created_at.desc(), a.alert_id.desc()])
    latest = a.mutate(rn=ibis.row_number().over(w)).filter(_.rn == 0)
    ack = eng.table("care_acknowledgements")
    ack = ack.filter(ack.action == "resolved")
    resolved = ack.group_by("person_id").aggregate(resolved_seq=ack.last_seq.max())
    j = latest.left_join(resolved, latest.person_id == resolved.person_id)
    return j.select(latest.person_id, j.alert_id, j.status, j.score, j.last_seq, j.resolved_seq)


def latest_cases(source: Engine | Any, people: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The cases (:func:`cases_expr`) of ``people`` (the list's: the rest stay where the
    engine keeps them, however many were ever alerted)."""
    from empatia.care.inputs import engine_of

    with engine_of(source) as eng:
        c = cases_expr(eng)
        rows = eng.to_arrow(c.filter(c.person_id.isin(list(people)))).to_pylist()
    return {r.pop("person_id"): r for r in rows}


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


def create_alerts(source: Engine | Any, entries: Iterable[dict[str, Any]],
                  cases: dict[str, dict[str, Any]], w: CareWeights,
                  now: datetime | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Write an alert for every entry that entered or worsened (once per change: a change
    already alerted, by its idempotency key, is not written again); the case it replaces is
    marked ``superseded``. Returns the new alerts."""
    import ibis

    from empatia.care.inputs import engine_of

    with engine_of(source) as eng:
        todo = []
        for e in entries:
            case = cases.get(e["person_id"])
            kind = decide(e, case, w)
            if kind is None:
                e["alert_id"] = case["alert_id"] if case else None
                e["status"] = "acknowledged" if case and case["status"] == "acknowledged" else "new"
            else:
                todo.append((e, case, kind, idempotency_key(e["person_id"], kind, e["last_seq"])))
        if not todo:
            return []
        a = eng.table("care_alerts")
        known = a.filter(a.idempotency_key.isin([t[3] for t in todo]))
        existing = {r["idempotency_key"]: r for r in eng.to_arrow(
            known.select("idempotency_key", "alert_id", "status")).to_pylist()}  # fmt: skip
        created, superseded = _new_alerts(todo, existing, now or datetime.now(UTC))
        if created:
            rows = pa.Table.from_pylist(
                [{**n, "evidence": orjson.dumps(n["evidence"]).decode(), "status": "open"}
                 for n in created], schema=ALERT_SCHEMA)  # fmt: skip
            new = eng.from_arrow(rows, "care_new_alerts")
            eng.write(new, "care_alerts", replace=False)
            eng.drop_temp(new)
        if superseded:  # the replaced cases' rows, rewritten with their new status
            a = eng.table("care_alerts")
            old = a.filter(a.alert_id.isin(superseded)).mutate(status=ibis.literal("superseded"))
            old = eng.materialize(old, "care_superseded")
            ids = ", ".join("'" + i.replace("'", "''") + "'" for i in superseded)
            eng.write(old, "care_alerts", where=f"alert_id in ({ids})")
            eng.drop_temp(old)
    return created


def _new_alerts(todo: list[tuple[dict[str, Any], dict[str, Any] | None, str, str]],
                existing: dict[str, dict[str, Any]], created_at: datetime,
                ) -> tuple[list[dict[str, Any]], list[str]]:  # fmt: skip
    """The alerts to write (and each entry's alert and status), and the cases they replace.
    Each is a microsecond after the one before, so they are delivered in the list's order."""
    created: list[dict[str, Any]] = []
    superseded: list[str] = []
    for e, case, kind, key in todo:
        if key in existing:  # this change was already alerted (a re-run)
            found = existing[key]
            e["alert_id"] = found["alert_id"]
            e["status"] = "acknowledged" if found["status"] == "acknowledged" else "new"
            continue
        alert_id = "al_" + secrets.token_hex(6)
        prev = case["score"] if case and kind == "worsened" else None
        if case and case["status"] in ACTIVE:
            superseded.append(case["alert_id"])
        e["alert_id"], e["status"] = alert_id, "new"
        created.append({"alert_id": alert_id, "idempotency_key": key, "kind": kind,
                        "previous_score": prev, **e,
                        "created_at": created_at + timedelta(microseconds=len(created))})  # fmt: skip
    return created, superseded


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
