"""The audit log: who read, exported or erased whose data — never the data itself.

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> log(s, "key:k_1", "read", "p_1", "GET /v1/subjects/{id}")
>>> [e["action"] for e in entries(s)]
['read']
"""

from __future__ import annotations

from typing import Any

from empatia.store import Store

ACTIONS = ("read", "export", "erase", "partner_export", "retention", "consent", "request")


def log(store: Store, actor: str, action: str, subject: str | None, detail: str = "") -> None:
    cur = store.cursor()
    try:
        cur.execute(
            "insert into privacy_audit (actor, action, subject, detail) values (?, ?, ?, ?)",
            [actor, action, subject, detail],
        )
    finally:
        cur.close()


def entries(store: Store, subject: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    cur = store.cursor()
    try:
        rel = cur.execute(
            "select audit_id, logged_at, actor, action, subject, detail from privacy_audit"
            " where ? is null or subject = ? order by audit_id desc limit ?",
            [subject, subject, limit],
        )
        names = [d[0] for d in rel.description]
        return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]
    finally:
        cur.close()
