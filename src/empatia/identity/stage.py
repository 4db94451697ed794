"""The ``identity`` stage of ``empatia run``.

A run after a few new events attaches them to their people with the fresh path
(:func:`~empatia.identity.incremental.attach_new_events`: seconds), not a rebuild of every
component (a minute on 2 M events). The batch resolution runs when it is needed:

- ``--full``, another engine than DuckDB, or the first run;
- an operator's decision changed what is linked (unmerge/split pins, review answers) or the
  identity settings changed;
- the backlog is large (more than ``fresh_max`` new events, default 20,000: a bulk import);
- probabilistic matching is due: ``rematch_records`` (default 500) CRM records arrived since
  the last batch, or the last batch is ``full_days`` (default 7) days old
  (``[stages.identity]``, :class:`~empatia.identity.config.IdentityConfig`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from empatia.identity.config import WHEN_FIELDS, IdentityConfig
from empatia.identity.incremental import attach_new_events
from empatia.identity.resolve import resolve, write_state
from empatia.pipeline import RunContext
from empatia.store import Store
from empatia.store.engine import Engine, engine_for
from empatia.store import state as kv

def structure(store: Store, config: IdentityConfig) -> str:
    """What decides the links besides the events: pins, review answers, settings."""
    row = store.con.execute(
        "select (select count(*) || ':' || coalesce(bit_xor(hash(kind, value, person_id)), 0)"
        "        from identity_pins)"
        " || '/' || (select md5(coalesce(string_agg(concat_ws('|', kind_l, value_l, kind_r,"
        " value_r, status), ',' order by kind_l, value_l, kind_r, value_r), ''))"
        " from identity_decisions)"
    ).fetchone()
    return f"{row[0] if row else ''}|{config.model_dump_json(exclude=set(WHEN_FIELDS))}"


def _count(store: Store, sql: str) -> int:
    row = store.con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def full_reason(ctx: RunContext, config: IdentityConfig, eng: Engine) -> str | None:
    """Why this run needs the batch resolution (``None``: the fresh path will do)."""
    store = ctx.store
    state = kv.items(store.con, "identity_state")
    if ctx.full:
        return "full"
    if not eng.incremental:
        return "engine"
    if "full_at" not in state:
        return "first run"
    if state.get("structure") != structure(store, config):
        return "links or settings changed"
    backlog = _count(store, "select coalesce(max(seq), 0) from events") - int(
        state.get("last_seq", 0)
    )
    if backlog > config.fresh_max:
        return "large backlog"
    if config.probabilistic:
        new_records = _count(store, "select count(*) from identity_records") - int(
            state.get("full_records", 0)
        )
        if new_records >= config.rematch_records:
            return "matching due"
    age = datetime.now(UTC) - datetime.fromisoformat(state["full_at"])
    if age > timedelta(days=config.full_days):
        return "matching due"
    return None


class IdentityStage:
    """Stitch every identifier into persons: identities, event_persons, merge history."""

    name = "identity"
    reads = ("events", "identity_pins", "identity_decisions")
    writes = ("identities", "event_persons", "identity_event_ids", "identity_records",
              "identity_matches", "identity_review", "identity_blocked", "identity_value_map",
              "identity_state", "merge_history", "merge_identifiers")

    def fingerprint(self, ctx: RunContext) -> str:
        return structure(ctx.store, ctx.stages.identity)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        config = ctx.stages.identity
        store = ctx.store
        eng, own = engine_for(ctx)
        try:
            reason = full_reason(ctx, config, eng)
            if reason is None:
                n = attach_new_events(store, config, max_events=config.fresh_max * 10)
                return {"mode": "incremental", "event_persons": n}
            figures = resolve(eng, config, full=ctx.full, progress=ctx.progress)
            write_state(
                eng,
                structure=structure(store, config),
                full_at=datetime.now(UTC).isoformat(),
                full_records=_count(store, "select count(*) from identity_records"),
            )
        finally:
            if own:
                eng.close()
        return {"mode": f"batch ({reason})", **figures}

STAGE = IdentityStage()
