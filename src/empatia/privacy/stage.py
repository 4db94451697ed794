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

import ibis
import ibis.expr.types as ir

from empatia.pipeline import ALL, RunContext
from empatia.privacy import audit, consent, retention, tombstones
from empatia.privacy.compact import PENDING, rewrite
from empatia.privacy.subjects import SKIP_TABLES, tables
from empatia.store import Store, state
from empatia.store.engine import DuckDBEngine, Engine, engine_for

log = logging.getLogger(__name__)
_CURSOR = "consent_seq"


def _state(store: Store, key: str, default: str = "0") -> str:
    return state.get(store.con, "privacy_state", key) or default


def _set_state(store: Store, key: str, value: str) -> None:
    state.put(store.con, "privacy_state", **{key: value})


def read_consent(store: Store, *, full: bool = False, eng: Engine | None = None) -> int:
    """Consent decisions from events not read yet (all of them with ``full``), read on
    ``eng`` (default: the store's own DuckDB)."""
    since = 0 if full else int(_state(store, _CURSOR))
    with nullcontext(eng) if eng is not None else DuckDBEngine(store) as on:
        ev = on.table("events")
        upto = int(on.to_arrow(ev.aggregate(s=ev.seq.max())).column("s")[0].as_py() or 0)
        n = 0
        if full or upto > since:  # full: read again; those given through the API stay
            n = consent.ingest_events(on, since, upto, replace=full)
        requests = on.count(ev.filter((ev.seq > since) & (ev.seq <= upto)
                                      & (ev.event == "Subject Request")))  # fmt: skip
    if requests:
        # Requests are not executed automatically: an operator confirms who asked.
        audit.log(store, "stage", "request", None, f"{requests} subject request event(s)")
    _set_state(store, _CURSOR, str(upto))
    return n


def _hash(salt: str, kind: str | ir.StringValue, value: ir.StringValue) -> ir.StringValue:
    """The tombstone hash of an identifier (:func:`empatia.privacy.tombstones.digest`)."""
    return (ibis.literal(salt) + kind + ":" + value).hexdigest("sha256")


def erased_seqs(eng: Engine, salt: str, ids: bool = True) -> ir.Table:
    """The events (``seq``) of erased people: under an erased user or anonymous id, or
    carrying an erased identifier that identity extracted (``ids``: its table is there)."""
    hashes = eng.table("privacy_tombstones").hash
    ev = eng.table("events")
    seqs = ev.filter(_hash(salt, "user_id", ev.user_id).isin(hashes)
                     | _hash(salt, "anonymous_id", ev.anonymous_id).isin(hashes)
                     ).select(seq=ev.seq.cast("int64"))  # fmt: skip
    if ids:  # (nullable: on a lake store the table is a view of the lake's files)
        t = eng.table("identity_event_ids")
        seqs = seqs.union(t.filter(_hash(salt, t.kind, t.value).isin(hashes))
                          .select(seq=t.seq.cast("int64")))  # fmt: skip
    return seqs.distinct()


def purge_erased(store: Store, eng: Engine) -> int:
    """Remove events (and rows derived from them) that belong to erased people, and the
    identifiers stitched from them; the keys are found on ``eng``, the deletes are the
    store's (in the stage's transaction). Returns the events removed."""
    if not store.con.execute("select count(*) from privacy_tombstones").fetchall()[0][0]:
        return 0
    s = tombstones.salt(store)
    seqs = eng.materialize(erased_seqs(eng, s, store.table_exists("identity_event_ids")))
    n = eng.count(seqs)
    hashes = eng.table("privacy_tombstones").hash
    dropped = 0
    for table, columns in tables(store).items():
        if table in SKIP_TABLES:
            continue
        if "seq" in columns and n:
            eng.delete(table, seqs, ["seq"])
        if columns.get("kind") == columns.get("value") == "VARCHAR":  # identifiers (identities…)
            t = eng.table(table)
            dropped += eng.delete(table, t.filter(_hash(s, t.kind, t.value).isin(hashes)),
                                  ["kind", "value"])  # fmt: skip
    eng.drop_temp(seqs)
    if not n and not dropped:
        return 0
    _set_state(store, PENDING, "rewrite")  # the file holds the bytes until it is rewritten
    audit.log(store, "stage", "erase", None, f"{n} late event(s) of erased people")
    return n


class PrivacyStage:
    """Consent ledger from events, late events of erased people dropped, retention applied."""

    name = "privacy"
    reads = ("events", "identities", "identity_event_ids", "identity_value_map", "event_persons",
             "privacy_tombstones", "consent_ledger")
    writes = ("consent_events", "consent_current", "privacy_audit", "privacy_state", "privacy_files")
    erases = ALL  # a late event of an erased person, and retention, reach every table
    always = True  # retention depends on the date; the runner never skips this stage

    def run(self, ctx: RunContext) -> dict[str, Any]:
        store = ctx.store
        consent.ensure_view(store)
        settings = ctx.stages.privacy
        eng, close = engine_for(ctx)  # consent, erased people's rows, expired rows: found there
        try:
            figures: dict[str, Any] = {"consent_records": read_consent(store, full=ctx.full, eng=eng)}
            purged = purge_erased(store, eng)
            figures["late_events_dropped"] = purged
            if settings.apply_retention:
                # Per table, derived rows included: {"events": 1204, "text_analysis": 310}.
                policies = retention.for_settings(settings)
                figures.update(retention.figures(retention.apply(store, policies, eng=eng)))
        finally:
            if close:
                eng.close()
        if purged and settings.rewrite:  # the erased bytes leave the file: once committed
            ctx.after_commit(lambda: rewrite(ctx.workspace.store))
        return figures


STAGE = PrivacyStage()
