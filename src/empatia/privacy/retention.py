"""Retention: rows older than their table's policy are deleted by the ``privacy`` stage.

Policies come from a TOML file (the packaged ``retention.toml`` by default: raw events 25
months; or ``[stages.privacy] retention_file``, ``--policies FILE``), and the workspace's own
``empatia.toml`` changes single tables on top of it::

    [stages.privacy.retention]
    events = "10 years"

Deleting raw events deletes the rows derived from them too (every table with a ``seq`` column,
except the consent ledger, which is proof and has its own policy).

Nothing is deleted unannounced. ``empatia import`` reports the events it stored that are
already outside retention (:func:`count_new_expired`, :func:`import_notice`). Events that came
in another way (the tracking API answers 200 and no report) since the last retention pass are
kept by that pass and counted as ``held``; the next pass deletes them. The dry run and the run
are the same function, so ``empatia retention --dry-run`` shows what the run will do.

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> [(r.table, r.rows) for r in apply(s, load_policies(), dry_run=True)][:1]
[('events', 0)]
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis.expr.types as ir

from empatia.errors import ConfigError
from empatia.privacy import audit
from empatia.privacy.config import PrivacySettings
from empatia.privacy.subjects import SKIP_TABLES, q, tables
from empatia.store import Store, state
from empatia.store.engine import DuckDBEngine, Engine

if TYPE_CHECKING:
    from empatia.settings import Settings

_KEEP_DERIVED = frozenset({"consent_ledger", "consent_events"})
#: ``privacy_state`` key: the last event ``seq`` a (non-dry) retention pass has seen.
_SEEN = "retention_seq"
#: Events whose ``source`` starts so came through ``empatia import``, which reported them.
_IMPORTED = "file:"
SETTING = "[stages.privacy.retention]"


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
    held: int = 0  # expired events new since the last pass that no import report announced


def load_policies(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> list[Policy]:
    """Policies from ``path``, else the packaged defaults;
    ``overrides`` (``{"events": "10 years"}``, or ``{"t": {"column": …, "keep": …}}`` for a
    table the file lacks) change single tables on top."""
    try:
        text = (
            Path(path).read_text()
            if path
            else resources.files("empatia.privacy").joinpath("retention.toml").read_text()
        )
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the retention policies {path}: {e}", path=str(path)) from e
    for table, spec in (overrides or {}).items():
        if isinstance(spec, str) and isinstance(data.get(table), dict):
            data[table] = {**data[table], "keep": spec}
        elif isinstance(spec, str):
            raise ConfigError(
                f"{SETTING} {table} = {spec!r}: there is no policy for {table!r} to change "
                f"(tables with one: {', '.join(data)}); for a new table write "
                f'{table} = {{ column = "…", keep = "{spec}" }}',
                table=table,
            )
        else:
            data[table] = spec
    return [_policy(table, spec) for table, spec in data.items()]


def _policy(table: str, spec: Any) -> Policy:
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
    return Policy(table, str(spec["column"]), str(spec["keep"]).replace("'", ""))


def for_settings(settings: Settings | PrivacySettings, path: str | Path | None = None
                 ) -> list[Policy]:
    """The workspace's policies: ``path`` or ``retention_file``, changed by
    ``[stages.privacy.retention]``."""
    privacy = settings if isinstance(settings, PrivacySettings) else settings.stages.privacy
    return load_policies(path or privacy.retention_file, privacy.retention)


def _cutoff(p: Policy) -> datetime:
    """Now less the policy's duration (a DuckDB interval, read as :func:`_policy` checked it;
    DuckDB here as a library, not the store)."""
    with duckdb.connect() as con:
        return con.execute("select now() - ?::interval", [p.keep]).fetchone()[0]  # type: ignore[index,no-any-return]


def count_new_expired(
    con: duckdb.DuckDBPyConnection, policies: Iterable[Policy], since_seq: int
) -> tuple[int, str | None]:
    """Events stored after ``since_seq`` that are already older than the events policy, and
    that policy's duration (for an import's report)."""
    p = next((p for p in policies if p.table == "events"), None)
    if p is None:
        return 0, None
    row = con.execute(
        f"select count(*) from events where seq > ? and {q(p.column)} < ?",
        [since_seq, _cutoff(p)],
    ).fetchone()
    return (int(row[0]) if row else 0), p.keep


def import_notice(files: Iterable[Any]) -> str | None:
    """What an import says when some of the events it stored fall outside retention (``files``:
    its file reports, as objects or dicts)."""
    rows = [f if isinstance(f, Mapping) else vars(f) for f in files]
    n = sum(int(r.get("outside_retention") or 0) for r in rows)
    keep = next((r.get("retention_keep") for r in rows if r.get("outside_retention")), None)
    if not n:
        return None
    are, them = ("s are", "them") if n != 1 else (" is", "it")
    return (
        f"{n:,} event{are} older than the retention period for events ({keep}): the next "
        f"`empatia run` deletes {them} and the rows derived from {them}; keep {them} with "
        f'{SETTING} events = "10 years" in empatia.toml (or a policies file in '
        "[stages.privacy] retention_file)"
    )


def figures(results: Iterable[RetentionResult]) -> dict[str, Any]:
    """The privacy stage's retention figures: rows deleted per table (derived rows included)
    and, when some are, the expired events kept this time because nobody announced them."""
    deleted: dict[str, int] = {}
    held = 0
    for r in results:
        for table, n in {r.table: r.rows, **r.derived}.items():
            if n:
                deleted[table] = deleted.get(table, 0) + n
        held += r.held
    out: dict[str, Any] = {"retention_deleted": deleted}
    if held:
        out["retention_held"] = held
    return out


def apply(
    store: Store, policies: list[Policy], *, dry_run: bool = False, actor: str = "stage",
    eng: Engine | None = None,
) -> list[RetentionResult]:  # fmt: skip
    """Delete expired rows (or, with ``dry_run``, count what would go); the expired rows are
    found on ``eng`` (default: the store's own DuckDB), the deletes are the store's."""
    with store.lock:  # not while new events are being stitched
        with nullcontext(eng) if eng is not None else DuckDBEngine(store) as on:
            return _apply(store, on, policies, dry_run=dry_run, actor=actor)


def _seen(con: duckdb.DuckDBPyConnection) -> int:
    return int(state.get(con, "privacy_state", _SEEN) or 0)


def _expired(eng: Engine, p: Policy, cutoff: datetime, seen: int, upto: int
             ) -> tuple[ir.Table, ir.Table | None]:  # fmt: skip
    """The rows of ``p.table`` past the policy, and for events those kept this time (new
    since the last pass ``seen`` and never announced by an import report)."""
    t = eng.table(p.table)
    old = t[p.column] < cutoff
    if p.table != "events":
        return t.filter(old), None
    unannounced = (t.seq > seen) & ~t.source.fill_null("").startswith(_IMPORTED)
    return t.filter(old, ~unannounced, t.seq <= upto), t.filter(old, unannounced)


def _check(p: Policy, all_tables: dict[str, dict[str, str]]) -> bool:
    cols = all_tables.get(p.table)
    if cols is not None and p.column not in cols:
        raise ConfigError(
            f"retention policy [{p.table}]: no column {p.column!r}; it has {', '.join(cols)}",
            table=p.table,
        )
    return cols is not None


def _apply(
    store: Store, eng: Engine, policies: list[Policy], *, dry_run: bool, actor: str
) -> list[RetentionResult]:
    all_tables = tables(store)
    results = []
    con = store.con
    seen = _seen(con)
    upto = int(con.execute("select coalesce(max(seq), 0) from events").fetchone()[0])  # type: ignore[index]
    for p in (p for p in policies if _check(p, all_tables)):
        cutoff = _cutoff(p)
        res = RetentionResult(p.table, p.column, p.keep, cutoff, 0)
        derived = (
            [t for t, c in all_tables.items()
             if "seq" in c and t not in SKIP_TABLES and t not in _KEEP_DERIVED and t != "events"]
            if p.table == "events" else []
        )  # fmt: skip
        expired, held = _expired(eng, p, cutoff, seen, upto)
        res.held = eng.count(held) if held is not None else 0
        key = ["seq"] if p.table == "events" else [p.column]
        gone = eng.materialize(expired.select(*key))
        n_gone = eng.count(gone)  # usually 0: then nothing to count elsewhere or delete
        if n_gone and dry_run:
            res.rows = n_gone
            for t in derived:
                if n := eng.count(eng.table(t).semi_join(gone, "seq")):
                    res.derived[t] = n
        elif n_gone:
            with eng.transaction():
                for t in derived:
                    if n := eng.delete(t, gone, key):
                        res.derived[t] = n
                res.rows = eng.delete(p.table, gone, key)
            if res.rows:
                audit.log(store, actor, "retention", None,
                          f"{p.table}: {res.rows} rows older than {p.keep}")  # fmt: skip
        eng.drop_temp(gone)
        results.append(res)
    if not dry_run:  # what this pass has seen is announced: the next one may delete it
        state.put(con, "privacy_state", **{_SEEN: upto})
    return results
