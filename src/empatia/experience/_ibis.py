"""Small Ibis helpers the experience stage's expressions share (same result on every engine)."""

from __future__ import annotations

import ibis.expr.types as ir


def epoch(ts: ir.TimestampValue) -> ir.FloatingValue:
    """Seconds since 1970 with milliseconds, the same on DuckDB and Spark (Spark's
    ``unix_timestamp`` drops the fraction, and it has no microseconds to extract)."""
    return ts.epoch_seconds().floor().cast("float64") + ts.millisecond().cast("float64") / 1000.0


def in_people(table: ir.Table, people: ir.Table | None) -> ir.Table:
    """``table``'s rows of the people in ``people`` (``person_id``); all of them without."""
    return table if people is None else table.semi_join(people, "person_id")
