"""Counts of the event log by type, source and day (``empatia stats``)."""

from __future__ import annotations

from typing import Any

from empatia.store import Store


def event_stats(store: Store, days: int = 14) -> dict[str, Any]:
    con = store.cursor()
    try:
        total = con.execute("select count(*) from events").fetchone()[0]  # type: ignore[index]
        by_type = con.execute(
            "select type, count(*) n from events group by 1 order by n desc"
        ).fetchall()
        by_source = con.execute(
            "select source, count(*) n from events group by 1 order by n desc"
        ).fetchall()
        by_day = con.execute(
            "select strftime(\"timestamp\" at time zone 'UTC', '%Y-%m-%d') d, count(*) n "
            "from events group by 1 order by 1 desc limit ?",
            [days],
        ).fetchall()
    finally:
        con.close()
    return {
        "total": total,
        "by_type": dict(by_type),
        "by_source": dict(by_source),
        "by_day": dict(by_day),
    }
