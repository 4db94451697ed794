"""A stage's own key → value state (its progress, a fitted model, a fingerprint of what it
read), kept in a two-column table of its own (``identity_state``, ``profiles_state``,
``privacy_state``, ``emotion_config``: ``key`` primary, ``value`` text).

Stages read and write it only through these functions, so the SQL for it lives here, once:
a store that is not DuckDB changes this file, not the stages.

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> put(s.con, "profiles_state", inputs="abc")
>>> get(s.con, "profiles_state", "inputs"), get(s.con, "profiles_state", "nothing", "0")
('abc', '0')
"""

from __future__ import annotations

import re
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
        con.execute(
            f"insert into {_table(table)} (key, value) values (?, ?)"
            " on conflict (key) do update set value = excluded.value",
            [key, None if value is None else str(value)],
        )


def put_new(con: Any, table: str, key: str, value: object) -> None:
    """Set ``key`` only if it has no value yet (the first writer wins)."""
    con.execute(
        f"insert into {_table(table)} (key, value) values (?, ?) on conflict do nothing",
        [key, str(value)],
    )


def drop(con: Any, table: str, key: str) -> None:
    """Forget ``key``."""
    con.execute(f"delete from {_table(table)} where key = ?", [key])
