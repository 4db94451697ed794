"""What identity resolution leaves for people to read: borderline pairs waiting for a
decision, identifiers the over-merge guard blocked, the merge history.

The CLI (``empatia identity …``) and HTTP (``/v1/identity/…``) are faces over these.
"""

from __future__ import annotations

from typing import Any

from empatia.identity.unmerge import history
from empatia.store import Store

__all__ = ["blocked", "history", "review"]


def _rows(store: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with store.read() as cur:
        res = cur.execute(sql, params)
        names = [d[0] for d in res.description]
        return [dict(zip(names, r, strict=True)) for r in res.fetchall()]


#: A review pair nobody has decided yet (decided ones leave the list at the next run).
UNDECIDED = ("not exists (select 1 from identity_decisions d where d.kind_l = identity_review.kind_l"
             " and d.value_l = identity_review.value_l and d.kind_r = identity_review.kind_r"
             " and d.value_r = identity_review.value_r)")  # fmt: skip


def review(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Open probabilistic pairs, most likely first (``empatia identity decide`` settles one)."""
    return _rows(store, f"select kind_l, value_l, kind_r, value_r, match_probability, person_id_l,"
                 f" person_id_r from identity_review where {UNDECIDED}"
                 " order by match_probability desc limit ?", [int(limit)])  # fmt: skip


def blocked(store: Store) -> list[dict[str, Any]]:
    """Identifiers the over-merge guard refused to link on, with their event count and why."""
    return _rows(store, "select kind, value, events, reason from identity_blocked"
                 " order by events desc", [])  # fmt: skip
