"""The ``privacy`` stage of ``empatia run``: consent from events, tombstones, retention.

It runs after ``identity`` so that consent given under a user or anonymous id reaches the
stitched person (the ``consent_current`` view maps ids to persons), and so that events of
erased people that slipped in under a new id (an e-mail on a fresh device) are found through
the identifiers identity extracted and removed with everything derived from them.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any

from empatia.pipeline import ALL, RunContext
from empatia.privacy import audit, consent, retention, tombstones
from empatia.privacy.compact import PENDING, rewrite
from empatia.privacy.subjects import SKIP_TABLES, q, tables
from empatia.store import Store
from empatia.store.engine import DuckDBEngine, Engine, engine_for

log = logging.getLogger(__name__)
_CURSOR = "consent_seq"


def _state(store: Store, key: str, default: str = "0") -> str:
    row = store.con.execute("select value from privacy_state where key = ?", [key]).fetchone()
    return str(row[0]) if row else default


def _set_state(store: Store, key: str, value: str) -> None:
    store.con.execute(
        "insert into privacy_state values (?, ?) on conflict (key) do update set value = excluded.value",
        [key, value],
    )


def read_consent(store: Store, *, full: bool = False, eng: Engine | None = None) -> int:
    """Consent decisions from events not read yet (all of them with ``full``), read on
    ``eng`` (default: the store's own DuckDB)."""
    since = 0 if full else int(_state(store, _CURSOR))
    row = store.con.execute("select coalesce(max(seq), 0) from events").fetchone()
    upto = int(row[0]) if row else 0
    if full:
        store.con.execute("delete from consent_ledger where seq is not null")
    n = 0
    if upto > since:
        with nullcontext(eng) if eng is not None else DuckDBEngine(store) as on:
            n = consent.ingest_events(on, since, upto)
    requests = store.con.execute(
        "select count(*) from events where seq > ? and seq <= ? and event = 'Subject Request'",
        [since, upto],
    ).fetchone()
    if requests and requests[0]:
        # Requests are not executed automatically: an operator confirms who asked.
        audit.log(store, "stage", "request", None, f"{requests[0]} subject request event(s)")
    _set_state(store, _CURSOR, str(upto))
    return n


def purge_erased(store: Store) -> int:
    """Remove events (and rows derived from them) that belong to erased people."""
    if not store.con.execute("select count(*) from privacy_tombstones").fetchone()[0]:  # type: ignore[index]
        return 0
    s = tombstones.salt(store)
    cond = tombstones.erased_where_sql(s)
    seqs = {r[0] for r in store.con.execute(f"select seq from events where {cond}").fetchall()}
    if store.table_exists("identity_event_ids"):
        lit = s.replace("'", "''")
        seqs |= {
            r[0]
            for r in store.con.execute(
                f"select seq from identity_event_ids where sha256('{lit}' || kind || ':' || value)"
                " in (select hash from privacy_tombstones)"
            ).fetchall()
        }
    lit = s.replace("'", "''")
    lst = "[" + ", ".join(str(int(x)) for x in sorted(seqs)) + "]"
    dropped = 0
    store.con.execute("begin transaction")
    try:
        for table, columns in tables(store).items():
            if table in SKIP_TABLES:
                continue
            if "seq" in columns and seqs:
                store.con.execute(f"delete from {q(table)} where list_contains({lst}, seq)")
            if "kind" in columns and "value" in columns:
                # Identifiers stitched from those events (identities, value maps, …).
                dropped += len(store.con.execute(
                    f"delete from {q(table)} where sha256('{lit}' || kind || ':' || value)"
                    " in (select hash from privacy_tombstones) returning 1"
                ).fetchall())  # fmt: skip
        if seqs or dropped:  # the file holds the bytes until it is rewritten
            _set_state(store, PENDING, "rewrite")
        store.con.execute("commit")
    except BaseException:
        store.con.execute("rollback")
        raise
    if not seqs and not dropped:
        return 0
    audit.log(store, "stage", "erase", None, f"{len(seqs)} late event(s) of erased people")
    return len(seqs)


class PrivacyStage:
    """Consent ledger from events, late events of erased people dropped, retention applied."""

    name = "privacy"
    reads = ("events", "identities", "identity_event_ids", "identity_value_map", "event_persons",
             "privacy_tombstones", "consent_ledger")
    writes = ("consent_ledger", "consent_current", "privacy_audit", "privacy_state", "privacy_files")
    erases = ALL  # a late event of an erased person, and retention, reach every table
    always = True  # retention depends on the date; the runner never skips this stage
    watches = ("consent_ledger",)  # also written by the CLI and HTTP API

    def run(self, ctx: RunContext) -> dict[str, Any]:
        store = ctx.store
        consent.ensure_view(store)
        eng, close = engine_for(ctx)  # the events' consent decisions: a step where they are
        try:
            figures: dict[str, Any] = {"consent_records": read_consent(store, full=ctx.full, eng=eng)}
        finally:
            if close:
                eng.close()
        purged = purge_erased(store)
        figures["late_events_dropped"] = purged
        settings = ctx.stages.privacy
        if settings.apply_retention:
            # Per table, derived rows included: {"events": 1204, "text_analysis": 310}.
            policies = retention.for_settings(settings)
            figures.update(retention.figures(retention.apply(store, policies)))
        if purged and settings.rewrite:  # the erased bytes leave the file: once committed
            ctx.after_commit(lambda: rewrite(ctx.workspace.store))
        return figures


STAGE = PrivacyStage()
