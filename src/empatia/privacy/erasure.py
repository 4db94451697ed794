"""Right to erasure that really erases (GDPR art. 17).

:func:`erase` deletes the subject's rows from every table that holds them (see
:mod:`empatia.privacy.subjects`: raw events, identities, stitched identifiers, texts' analyses,
profiles, scores, decisions, consent, …), blanks the subject's identifiers and texts wherever
they still appear inside other rows (another person's event that mentions the e-mail), keeps
salted-hash tombstones so later events are dropped, records the erasure in the audit log under
the hash, and rewrites the database file so no deleted byte survives on disk.

>>> from empatia.store import Store
>>> s = Store(":memory:")
>>> _ = s.con.execute("insert into events (message_key, message_id, type, user_id, timestamp,"
...     " received_at, source, raw) values (1, 'm1', 'identify', 'u1', now(), now(), 'x',"
...     " '{\\"traits\\": {\\"email\\": \\"ala@kot.pl\\"}}')")
>>> erase(s, "user_id:u1").deleted["events"]
1
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb

from empatia.errors import StoreError
from empatia.privacy import audit, tombstones
from empatia.privacy.compact import rewrite
from empatia.privacy.subjects import SKIP_TABLES, needles, predicates, q, resolve, tables
from empatia.store import Store

log = logging.getLogger(__name__)

_TEXT_TYPES = ("VARCHAR", "JSON")


@dataclass
class ErasureReport:
    subject: str  # the tombstone hash that stands for the person from now on
    deleted: dict[str, int] = field(default_factory=dict)
    blanked: dict[str, int] = field(default_factory=dict)
    tombstones: int = 0
    rewritten: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"subject": self.subject, "deleted": self.deleted, "blanked": self.blanked,
                "tombstones": self.tombstones, "rewritten": self.rewritten}  # fmt: skip


def erase(
    store: Store,
    query: str,
    *,
    actor: str = "cli",
    rewrite_file: bool = True,
) -> ErasureReport:
    """Erase the person named by ``query`` everywhere; see the module docstring."""
    with store.lock:  # not while new events are being stitched to people
        return _erase(store, query, actor, rewrite_file)


def _erase(store: Store, query: str, actor: str, rewrite_file: bool) -> ErasureReport:
    subject = resolve(store, query)
    idents = set(subject.identifiers) | {("person_id", p) for p in subject.person_ids}
    hashes = tombstones.add(store, idents)
    stands_for = hashes[0] if hashes else ""
    report = ErasureReport(subject=stands_for[:16])
    con = store.con
    con.execute("begin transaction")
    try:
        for table, columns in tables(store).items():
            if table in SKIP_TABLES:
                continue
            preds = predicates(subject, table, columns)
            if preds:
                n = _count(con, f"delete from {q(table)} where {' or '.join(preds)} returning 1")
                if n:
                    report.deleted[table] = n
        words = needles(subject)
        for table, columns in tables(store).items():
            if table in SKIP_TABLES or not words:
                continue
            n = _blank(con, table, columns, words)
            if n:
                report.blanked[table] = n
        if subject.person_ids:
            con.execute(
                "update privacy_audit set subject = ? where list_contains(?, subject)",
                [report.subject, sorted(subject.person_ids)],
            )
        con.execute("commit")
    except duckdb.Error as e:
        con.execute("rollback")
        # DuckDB's message quotes the SQL, which names the person: never pass it on.
        raise StoreError(
            f"erasure failed ({type(e).__name__}); nothing was erased — run again with "
            "--debug to see the table"
        ) from None
    except BaseException:
        con.execute("rollback")
        raise
    report.tombstones = len(hashes)
    audit.log(store, actor, "erase", report.subject,
              f"rows deleted: {sum(report.deleted.values())}")  # fmt: skip
    if rewrite_file:
        report.rewritten = rewrite(store)
    else:
        store.checkpoint()
    log.info("erased a subject: %d rows in %d tables", sum(report.deleted.values()),
             len(report.deleted))  # fmt: skip
    return report


def erase_many(
    store: Store,
    queries: list[str],
    *,
    actor: str = "cli",
) -> list[ErasureReport]:
    """Erase several people and rewrite the file once (the rewrite dominates the cost)."""
    with store.lock:
        reports = [erase(store, q, actor=actor, rewrite_file=False) for q in queries]
        rewritten = rewrite(store)
    for r in reports:
        r.rewritten = rewritten
    return reports


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return len(con.execute(sql).fetchall())


def _blank(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str], words: list[str]
) -> int:
    """Replace the subject's identifiers and texts inside other rows with ``[erased]``."""
    total = 0
    for col, ty in columns.items():
        if ty.upper() not in _TEXT_TYPES:
            continue
        c = q(col)
        text = f"{c}::varchar"
        hit = " or ".join(f"contains({text}, $w{i})" for i in range(len(words)))
        params = {f"w{i}": w for i, w in enumerate(words)}
        n = con.execute(f"select count(*) from {q(table)} where {hit}", params).fetchone()
        if not n or not n[0]:
            continue
        expr = text
        for i in range(len(words)):
            expr = f"replace({expr}, $w{i}, '[erased]')"
        if ty.upper() == "JSON":
            expr = f"{expr}::json"
        try:
            con.execute(f"update {q(table)} set {c} = {expr} where {hit}", params)
        except duckdb.Error:
            # A key column, or JSON that would not parse: drop those rows instead.
            con.execute(f"delete from {q(table)} where {hit}", params)
        total += int(n[0])
    return total
