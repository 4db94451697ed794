"""What a page section shows: its data, or a plain statement of what has not been produced.

Pages read other stages' tables. A stage may not have run yet (or not be installed): the
section then says which table is missing and how to produce it, and never shows made-up
numbers.

>>> import duckdb
>>> con = duckdb.connect()
>>> s = Tables(con).need("emotion", "text_analysis")
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


class Tables:
    """The tables and views present in a store, looked up once per request."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.names = {r[0] for r in con.execute(
            "select table_name from information_schema.tables"
        ).fetchall()}  # fmt: skip
        self._rows: dict[str, bool] = {}
        self._lock = threading.Lock()

    def has(self, table: str) -> bool:
        return table in self.names

    def filled(self, table: str) -> bool:
        """Present and holding at least one row."""
        with self._lock:
            if table not in self._rows:
                self._rows[table] = self.has(table) and bool(
                    self.con.execute(f'select exists (select 1 from "{table}")').fetchone()[0]  # type: ignore[index]
                )
            return self._rows[table]

    def need(self, stage: str, *tables: str) -> Section[Any]:
        """An ok section when every table is there with rows, else the reason."""
        for t in tables:
            if not self.has(t):
                return Section.missing(
                    f"The {stage} stage has not produced {t} yet: run `empatia run`."
                )
            if not self.filled(t):
                return Section.missing(f"The {stage} stage has produced no rows in {t} yet: "
                                       "run `empatia run` after importing events.")  # fmt: skip
        return Section(True)


def guarded(name: str, build: Callable[[], Any]) -> Section[Any]:
    """Run one section's query; an error becomes a message instead of a broken page."""
    try:
        out = build()
    except Exception as e:  # noqa: BLE001 - one section failing must not take the page down
        log.exception("web section %s failed", name)
        return Section.missing(f"This section could not be computed ({type(e).__name__}: {e}).")
    return out if isinstance(out, Section) else Section(True, out)


def records(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of the last query as dicts, NaN read as None."""
    names = [d[0] for d in cur.description or []]
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v)
             for k, v in zip(names, r, strict=True)} for r in cur.fetchall()]  # fmt: skip


def one(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    rows = records(cur)
    return rows[0] if rows else None
