"""Retention: rows older than their table's policy are deleted by the ``privacy`` stage.

Policies come from a TOML file (the packaged ``retention.toml`` by default: raw events 25
months). Deleting raw events deletes the rows derived from them too (every table with a
``seq`` column, except the consent ledger, which is proof and has its own policy).

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> [(r.table, r.rows) for r in apply(s, load_policies(), dry_run=True)][:1]
[('events', 0)]
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

import duckdb

from empatia.errors import ConfigError
from empatia.privacy import audit
from empatia.privacy.subjects import SKIP_TABLES, q, tables
from empatia.store import Store

_KEEP_DERIVED = frozenset({"consent_ledger"})


@dataclass(frozen=True)
class Policy:
    table: str
    column: str
    keep: str  # a DuckDB interval: '25 months'


@dataclass
class RetentionResult:
    table: str
    column: str
    keep: str
    cutoff: datetime | None
    rows: int
    derived: dict[str, int] = field(default_factory=dict)


def load_policies(path: str | Path | None = None) -> list[Policy]:
    """Policies from ``path``, else ``$EMPATIA_RETENTION_FILE``, else the packaged defaults."""
    path = path or os.environ.get("EMPATIA_RETENTION_FILE")
    try:
        text = (
            Path(path).read_text()
            if path
            else resources.files("empatia.privacy").joinpath("retention.toml").read_text()
        )
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the retention policies {path}: {e}", path=str(path)) from e
    out = []
    for table, spec in data.items():
        if not isinstance(spec, dict) or not {"column", "keep"} <= set(spec):
            raise ConfigError(
                f"retention policy [{table}] needs column = \"…\" and keep = \"25 months\"",
                table=table,
            )
        try:
            ok = duckdb.execute("select try_cast(? as interval)", [str(spec["keep"])]).fetchone()
        except duckdb.Error:
            ok = None
        if not ok or ok[0] is None or "'" in str(spec["keep"]):
            raise ConfigError(
                f"retention policy [{table}]: keep = {spec['keep']!r} is not a duration "
                "like '25 months' or '90 days'",
                table=table,
            )
        out.append(Policy(table, str(spec["column"]), str(spec["keep"]).replace("'", "")))
    return out


def apply(
    store: Store, policies: list[Policy], *, dry_run: bool = False, actor: str = "stage"
) -> list[RetentionResult]:
    """Delete expired rows (or, with ``dry_run``, count what would go)."""
    with store.lock:  # not while new events are being stitched
        return _apply(store, policies, dry_run=dry_run, actor=actor)


def _apply(
    store: Store, policies: list[Policy], *, dry_run: bool, actor: str
) -> list[RetentionResult]:
    all_tables = tables(store)
    results = []
    con = store.con
    for p in policies:
        cols = all_tables.get(p.table)
        if cols is None:
            continue
        if p.column not in cols:
            raise ConfigError(
                f"retention policy [{p.table}]: no column {p.column!r}; it has "
                f"{', '.join(cols)}",
                table=p.table,
            )
        cutoff = con.execute(f"select now() - interval '{p.keep}'").fetchone()[0]  # type: ignore[index]
        where = f"{q(p.column)} < ?"
        res = RetentionResult(p.table, p.column, p.keep, cutoff, 0)
        derived = (
            [t for t, c in all_tables.items()
             if "seq" in c and t not in SKIP_TABLES and t not in _KEEP_DERIVED and t != "events"]
            if p.table == "events" else []
        )  # fmt: skip
        if dry_run:
            res.rows = int(con.execute(f"select count(*) from {q(p.table)} where {where}", [cutoff]).fetchone()[0])  # type: ignore[index]  # noqa: E501
            for t in derived:
                n = con.execute(
                    f"select count(*) from {q(t)} where seq in "
                    f"(select seq from events where {where})",
                    [cutoff],
                ).fetchone()[0]  # type: ignore[index]
                if n:
                    res.derived[t] = int(n)
        else:
            con.execute("begin transaction")
            try:
                for t in derived:
                    n = len(con.execute(
                        f"delete from {q(t)} where seq in (select seq from events where {where})"
                        " returning 1",
                        [cutoff],
                    ).fetchall())  # fmt: skip
                    if n:
                        res.derived[t] = n
                res.rows = len(
                    con.execute(f"delete from {q(p.table)} where {where} returning 1", [cutoff]).fetchall()  # noqa: E501
                )
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
            if res.rows:
                audit.log(store, actor, "retention", None,
                          f"{p.table}: {res.rows} rows older than {p.keep}")  # fmt: skip
        results.append(res)
    return results
