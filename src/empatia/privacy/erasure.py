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
from typing import Any

import duckdb

from empatia.errors import StoreError
from empatia.privacy import audit, files, tombstones
from empatia.privacy.compact import PENDING, finish_pending, rewrite
from empatia.privacy.subjects import (
    SKIP_TABLES,
    Subject,
    mentions,
    needles,
    pattern,
    predicates,
    q,
    resolve,
    row_id,
    tables,
)
from empatia.store import Store, state
from empatia.store.lake import erase_rows, events_changed, forget, require_primary

log = logging.getLogger(__name__)



@dataclass
class ErasureReport:
    subject: str  # the tombstone hash that stands for the person from now on
    deleted: dict[str, int] = field(default_factory=dict)
    blanked: dict[str, int] = field(default_factory=dict)  # others' rows naming the person
    tombstones: int = 0
    rewritten: bool = False
    dry_run: bool = False
    unresolved: list[str] = field(default_factory=list)  # what an operator should review
    files: dict[str, str] = field(default_factory=dict)  # exports the person was taken out of

    def as_dict(self) -> dict[str, object]:
        return {"subject": self.subject, "deleted": self.deleted, "blanked": self.blanked,
                "tombstones": self.tombstones, "rewritten": self.rewritten,
                "dry_run": self.dry_run, "unresolved": self.unresolved,
                "files": self.files}  # fmt: skip


def erase(
    store: Store,
    query: str,
    *,
    actor: str = "cli",
    rewrite_file: bool = True,
    dry_run: bool = False,
) -> ErasureReport:
    """Erase the person named by ``query`` everywhere; see the module docstring.

    ``dry_run`` changes nothing and reports what would be deleted and blanked. A query that
    names nobody raises :class:`~empatia.errors.NotFoundError` and changes nothing."""
    require_primary(store.con, store.lake, "erasure")
    with store.lock:  # not while new events are being stitched to people
        _gather(store)  # a person whose events came through an ingest node is found too
        finish_pending(store)
        report = _erase(store, query, actor, dry_run)
        if not dry_run:
            _forget(store)  # a lake's old versions still hold the person
            if rewrite_file:
                report.rewritten = rewrite(store)
            else:
                store.checkpoint()
        return report


def erase_many(
    store: Store,
    queries: list[str],
    *,
    actor: str = "cli",
    dry_run: bool = False,
) -> list[ErasureReport]:
    """Erase several people and rewrite the file once (the rewrite dominates the cost).

    Every query is resolved first: when one names nobody, nothing at all is erased."""
    require_primary(store.con, store.lake, "erasure")
    with store.lock:
        _gather(store)
        finish_pending(store)
        for query in queries:
            resolve(store, query)
        reports = [_erase(store, q, actor, dry_run) for q in queries]
        if not dry_run:
            _forget(store)
            rewritten = rewrite(store)
            for r in reports:
                r.rewritten = rewritten
    return reports


def _gather(store: Store) -> None:
    from empatia.ingest.nodes import gather

    gather(store)


def _forget(store: Store) -> None:
    """The erased person out of the lake: what ingest nodes sent of them since is dropped
    as it is gathered (their tombstones are here), then every old file goes."""
    if store.lake is not None:
        _gather(store)
        forget(store.con, store.lake)


def _erase(store: Store, query: str, actor: str, dry_run: bool) -> ErasureReport:
    subject = resolve(store, query)
    idents = set(subject.identifiers) | {("person_id", p) for p in subject.person_ids}
    report = ErasureReport(subject="", dry_run=dry_run, unresolved=unresolved(store, subject))
    con = store.con
    con.execute("begin transaction")
    try:
        hashes = tombstones.add(store, idents)
        report.subject = hashes[0][:16] if hashes else ""
        # Exports on disk first, before the commit: after a crash the person is still in the
        # store, and erasing again finishes (see empatia.privacy.files).
        report.files = files.scrub(store, subject, dry_run=dry_run)
        for table, columns in tables(store).items():
            if table in SKIP_TABLES:
                continue
            preds = predicates(subject, table, columns)
            if preds and store.is_lake(table):  # a new version of the lake table without them
                n = erase_rows(con, store.lake, table, " or ".join(preds), dry_run=dry_run)
                if n:
                    report.deleted[table] = n
            elif preds:
                n = _count(con, f"delete from {q(table)} where {' or '.join(preds)} returning 1")
                if n:
                    report.deleted[table] = n
        cells = {(str(m["table"]), str(m["column"]), m["row"]) for m in mentions(store, subject)}
        for table, _, _ in cells:
            report.blanked[table] = report.blanked.get(table, 0) + 1
        if cells:
            _blank(store, subject, cells)
        if dry_run:
            con.execute("rollback")
            return report
        if subject.person_ids:
            con.execute(
                "update privacy_audit set subject = ? where list_contains(?, subject)",
                [report.subject, sorted(subject.person_ids)],
            )
        if store.path != ":memory:":  # the file still holds the bytes until rewritten
            state.put_new(con, "privacy_state", PENDING, "rewrite")
        audit.log(store, actor, "erase", report.subject,
                  f"rows deleted: {sum(report.deleted.values())}")  # fmt: skip
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
    log.info("erased a subject: %d rows in %d tables", sum(report.deleted.values()),
             len(report.deleted))  # fmt: skip
    return report


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> int:
    return len(con.execute(sql, params).fetchall())


def _blank(store: Store, subject: Subject, cells: set[tuple[str, str, Any]]) -> None:
    """Replace the subject's identifiers, name and texts inside the ``(table, column, row)``
    cells :func:`mentions` found with ``[erased]`` — whole words only, never inside another
    word or id; only those rows are read again."""
    pat, con, cols = pattern(needles(subject)), store.con, tables(store)
    rows: dict[tuple[str, str], list[Any]] = {}
    for table, col, row in cells:
        rows.setdefault((table, col), []).append(row)
    if store.lake is not None and any(table == "events" for table, _ in rows):
        events_changed(con)  # shipped to the lake already: sent again, blanked
    for (table, col), keys in sorted(rows.items()):
        c, key = q(col), row_id(store, table, cols[table])
        hit = f"list_contains($keys, {key}) and regexp_matches({c}::varchar, $p, 'i')"
        if store.is_lake(table):  # rebuilt by the next run: the rows go, in a new version
            erase_rows(con, store.lake, table, hit, {"p": pat, "keys": keys})
            continue
        expr = f"regexp_replace({c}::varchar, $p, '\\1[erased]\\3', 'gi')"
        if cols[table][col].upper() == "JSON":
            expr = f"{expr}::json"
        params = {"p": pat, "keys": keys}
        for _ in range(3):  # neighbours sharing one separator need a second pass
            try:
                n = _count(con, f"update {q(table)} set {c} = {expr} where {hit} returning 1",
                           params)  # fmt: skip
            except duckdb.Error:
                # A key column, or JSON that would not parse: drop those rows instead.
                n = _count(con, f"delete from {q(table)} where {hit} returning 1", params)
            if not n:
                break


def unresolved(store: Store, subject: Subject) -> list[str]:
    """What might also be this person but is not linked to them: said, never guessed at."""
    from empatia.identity.views import UNDECIDED
    notes: list[str] = []
    if not store.table_exists("identity_review") or not subject.identifiers:
        return notes
    idents = sorted(subject.identifiers)
    row = store.con.execute(
        "select count(*), string_agg(distinct case when list_contains($ids, {'k': kind_l,"
        " 'v': value_l}) then kind_r else kind_l end, ', ') from identity_review"
        f" where {UNDECIDED} and (list_contains($ids, {{'k': kind_l, 'v': value_l}})"
        " or list_contains($ids, {'k': kind_r, 'v': value_r}))",
        {"ids": [{"k": k, "v": v} for k, v in idents]},
    ).fetchone()
    if row and row[0]:
        notes.append(
            f"{row[0]} open identity review pair(s) may link this person to another record "
            f"({row[1]}), not erased: review them with `empatia identity review`"
        )
    return notes
