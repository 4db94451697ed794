"""A stage's own key → value state (its progress, a fitted model, a fingerprint of what it
read), kept in a two-column table of its own (``identity_state``, ``profiles_state``,
``privacy_state``, ``emotion_config``: ``key`` primary, ``value`` text).

Stages read and write it only through these functions, so the SQL for it lives here, once:
a store that is not DuckDB changes this file, not the stages. :func:`replace_row` is also how
any other one-row record of the store is replaced (the lake's pins, the runner's marks).

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> put(s.con, "profiles_state", inputs="abc")
>>> get(s.con, "profiles_state", "inputs"), get(s.con, "profiles_state", "nothing", "0")
('abc', '0')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_TABLE = re.compile(r"^[a-z_]+_(state|config)$")


def _table(name: str) -> str:
    if not _TABLE.match(name):
        raise ValueError(f"not a state table: {name!r}")
    return name


def get(con: Any, table: str, key: str, default: str | None = None) -> str | None:
    """The value of ``key`` (``default`` when there is none)."""
    rows = con.execute(f"select value from {_table(table)} where key = ?", [key]).fetchall()
    return str(rows[0][0]) if rows and rows[0][0] is not None else default


def items(con: Any, table: str) -> dict[str, str]:
    """Every key that has a value, and its value."""
    rows = con.execute(f"select key, value from {_table(table)} order by key").fetchall()
    return {k: str(v) for k, v in rows if v is not None}


def put(con: Any, table: str, **values: object) -> None:
    """Set each key to its value (as text), replacing what was there."""
    for key, value in values.items():
        replace_row(con, _table(table), ("key",), {"key": key,
                                                   "value": None if value is None else str(value)})


def replace_row(con: Any, table: str, key: Sequence[str], row: Mapping[str, object]) -> None:
    """Make ``row`` the row of ``table`` whose ``key`` columns hold ``row``'s values there,
    adding it when there is none (columns ``row`` does not name keep theirs, or their
    defaults in a new row).

    An update, and an insert when it matched nothing — not DuckDB's ``insert or replace`` or
    ``on conflict do update``: each of those kept ≈ 0.5 MB of the process's memory for as
    long as any transaction was open (DuckDB 2.0; duckdb/duckdb#17129), and a run writes such
    rows for every table a stage writes into a lake — the driver grew 28 MB over emotion's
    64 memo parts (#17)."""
    cols = list(row)
    others = [c for c in cols if c not in key]  # every caller sets a column besides its key
    sets = ", ".join(f'"{c}" = ?' for c in others)
    where = " and ".join(f'"{c}" = ?' for c in key)
    found = con.execute(f"update {table} set {sets} where {where}",
                        [row[c] for c in (*others, *key)]).fetchone()  # fmt: skip
    if not found or not found[0]:
        names = ", ".join(f'"{c}"' for c in cols)
        con.execute(f"insert into {table} ({names}) values ({', '.join('?' * len(cols))})",
                    [row[c] for c in cols])  # fmt: skip


def put_new(con: Any, table: str, key: str, value: object) -> None:
    """Set ``key`` only if it has no value yet (the first writer wins)."""
    con.execute(
        f"insert into {_table(table)} (key, value) values (?, ?) on conflict do nothing",
        [key, str(value)],
    )


def drop(con: Any, table: str, key: str) -> None:
    """Forget ``key``."""
    con.execute(f"delete from {_table(table)} where key = ?", [key])
