"""What a page section shows: its data, or a plain statement of what has not been produced.

Pages and figures read other stages' tables. A stage may not have run yet (or not be
installed): :meth:`Tables.need` then raises :class:`~empatia.views.exceptions.NotProducedError`
naming the missing table and how to produce it (the HTTP API answers 409), and
:func:`guarded` turns it into a section that says so, never made-up numbers.

>>> import duckdb
>>> con = duckdb.connect()
>>> s = guarded("emotion", lambda: Tables(con).need("emotion", "text_analysis"))
>>> s.ok, s.message
(False, 'The emotion stage has not produced text_analysis yet: run `empatia run`.')
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import duckdb

from empatia.views.exceptions import NotProducedError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Section(Generic[T]):
    """``ok`` with ``data``, or not ok with a ``message`` saying why (``Section[list[Order]]``
    says what ``data`` holds)."""

    ok: bool
    data: T | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def missing(cls, message: str) -> Section[Any]:
        return Section(False, None, message)


def table_names(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The tables and views present in the store."""
    rows = con.execute("select table_name from information_schema.tables").fetchall()
    return frozenset(r[0] for r in rows)


class Tables:
    """The tables and views present in a store, looked up once per request."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.names = table_names(con)
        self._rows: dict[str, bool] = {}
        self._lock = threading.Lock()

    def has(self, table: str) -> bool:
        return table in self.names

    def filled(self, table: str) -> bool:
        """Present and holding at least one row."""
        with self._lock:
            if table not in self._rows:
                rows = self.has(table) and self.con.execute(
                    f'select exists (select 1 from "{table}")'
                ).fetchall()  # fetched to the end: the connection may be shared
                self._rows[table] = bool(rows and rows[0][0])
            return self._rows[table]

    def need(self, stage: str, *tables: str, rows: bool = True) -> None:
        """Raise :class:`~empatia.views.exceptions.NotProducedError` unless every table is
        there (and, with ``rows``, holds at least one row)."""
        for t in tables:
            if not self.has(t):
                raise NotProducedError(stage, t)
            if rows and not self.filled(t):
                raise NotProducedError(stage, t, empty=True)


def produced(build: Callable[[], Any]) -> Section[Any]:
    """``build()`` as an ok section (unless it is a section already), or the message of the
    :class:`~empatia.views.exceptions.NotProducedError` it raised."""
    try:
        out = build()
    except NotProducedError as e:
        return Section.missing(e.message)
    return out if isinstance(out, Section) else Section(True, out)


def guarded(name: str, build: Callable[[], Any]) -> Section[Any]:
    """:func:`produced`, and any other error becomes a message instead of a broken page."""
    try:
        return produced(build)
    except Exception as e:  # noqa: BLE001 - one section failing must not take the page down
        log.exception("web section %s failed", name)
        return Section.missing(f"This section could not be computed ({type(e).__name__}: {e}).")


def records(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of the last query as dicts, NaN read as None."""
    names = [d[0] for d in cur.description or []]
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in zip(names, r, strict=True)} for r in cur.fetchall()]  # fmt: skip


def one(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    rows = records(cur)
    return rows[0] if rows else None
