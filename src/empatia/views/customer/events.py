"""Reading one person: their events (newest first), the emotion stage's reading of their
texts, and single rows of the stages' tables.

Each function takes a cursor of its own, so the lookups can run side by side
(:func:`~empatia.views.customer.customer_360` with an executor).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from empatia.views.customer.models import MAX_EVENTS, Cursor
from empatia.views.person_index import index_for
from empatia.views.sections import Tables, one, records

if TYPE_CHECKING:
    from empatia.store import Store


def row_of(cur: duckdb.DuckDBPyConnection, t: Tables, table: str, columns: str,
           pid: str) -> dict[str, Any] | None:  # fmt: skip
    """The person's row of ``table`` (its ``columns``), ``None`` without the table or row."""
    if not t.has(table):
        return None
    return one(cur.execute(f"select {columns} from {table} where person_id = ?", [pid]))


def events_and_texts(cur: duckdb.DuckDBPyConnection, t: Tables, pid: str,
                     store: Store) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:  # fmt: skip
    """The person's newest events and the readings of the texts among them."""
    events = person_events(cur, pid, store) if t.has("event_persons") else []
    return events, texts(cur, t, [e["seq"] for e in events])


def person_events(cur: duckdb.DuckDBPyConnection, person_id: str,
                  store: Store) -> list[dict[str, Any]]:  # fmt: skip
    """The person's events, newest first (at most :data:`MAX_EVENTS`)."""
    seqs = index_for(store).seqs(cur, person_id, MAX_EVENTS)
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


def older_events(cur: duckdb.DuckDBPyConnection, person_id: str,
                 before: Cursor | None) -> list[dict[str, Any]]:  # fmt: skip
    """The person's events older than the event ``before``, newest first."""
    when, seq = (before.before, before.seq) if before else (datetime.max.replace(tzinfo=UTC), 2**62)
    cur.execute(
        'select seq, "timestamp", type, event, name, raw from events'
        " where seq in (select seq from event_persons where person_id = ?)"
        ' and ("timestamp" < ? or ("timestamp" = ? and seq < ?))'
        ' order by "timestamp" desc, seq desc limit ?',
        [person_id, when, when, seq, MAX_EVENTS],
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


def texts(cur: duckdb.DuckDBPyConnection, t: Tables, seqs: list[int]) -> dict[int, dict[str, Any]]:
    """The emotion stage's reading of the texts among events ``seqs``, by seq."""
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
