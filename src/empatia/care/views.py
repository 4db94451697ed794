"""Reading the list and the alerts, as a viewer may see them (see :mod:`empatia.care.explain`)."""

from __future__ import annotations

from typing import Any

import duckdb
import orjson

from empatia.care.exceptions import AlertNotFoundError
from empatia.care.explain import VIEWERS, view
from empatia.errors import ValidationError


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    out = []
    for r in cur.fetchall():
        d = dict(zip(cols, r, strict=True))
        if isinstance(d.get("evidence"), str):
            d["evidence"] = orjson.loads(d["evidence"])
        out.append(d)
    return out


def _check(viewer: str) -> None:
    if viewer not in VIEWERS:
        raise ValidationError(f"unknown viewer {viewer!r}; use one of {', '.join(VIEWERS)}")


def care_list(con: duckdb.DuckDBPyConnection, limit: int = 50, viewer: str = "read",
              status: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The ranked list of the latest run; ``status`` new | acknowledged filters it."""
    _check(viewer)
    where, args = ("where status = ?", [status]) if status else ("", [])
    cur = con.execute(f"select * from care_list {where} order by rank limit ?", [*args, int(limit)])
    rows = _rows(cur)
    return [view(con, r, viewer) for r in rows] if viewer != "read" else [_bare(r) for r in rows]


def _bare(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "text_visible": False}


def entry(con: duckdb.DuckDBPyConnection, person_id: str, viewer: str = "read") -> dict[str, Any]:
    """One person's entry with the evidence resolved (quotes only for viewers allowed them)."""
    _check(viewer)
    rows = _rows(con.execute("select * from care_list where person_id = ?", [person_id]))
    if not rows:
        rows = _rows(con.execute(
            "select person_id, score, influence, risk, value, explanation, evidence, status, "
            "alert_id, last_seq from care_alerts where person_id = ? "
            "order by created_at desc limit 1", [person_id]))  # fmt: skip
    if not rows:
        raise AlertNotFoundError(person_id)
    return view(con, rows[0], viewer)


def alerts(con: duckdb.DuckDBPyConnection, status: str | None = None, limit: int = 100,
           person_id: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Alerts, newest first (``status``: open | acknowledged | resolved | superseded)."""
    conds, args = [], []
    if status:
        conds.append("status = ?")
        args.append(status)
    if person_id:
        conds.append("person_id = ?")
        args.append(person_id)
    where = ("where " + " and ".join(conds)) if conds else ""
    return _rows(con.execute(
        f"select alert_id, person_id, kind, status, score, previous_score, influence, risk, value,"
        f" explanation, evidence, last_seq, created_at from care_alerts {where}"
        f" order by created_at desc, alert_id desc limit ?", [*args, int(limit)]))  # fmt: skip
