"""The ``profiles`` stage of ``empatia run``."""

from __future__ import annotations

from typing import Any

from empatia.pipeline import RunContext
from empatia.profiles.build import build_profiles, population_columns, save_clv_model
from empatia.profiles.config import ProfileConfig
from empatia.profiles.money import Reporting, rates_fingerprint
from empatia.store import state
from empatia.store.changes import CHANGED, IDENTITIES, Changes, changed_persons, save_marks
from empatia.store.engine import Engine, engine_for


def _fingerprint(eng: Engine, config: ProfileConfig, money: Reporting) -> str:
    """What profiles depend on: the events, who they belong to, the rates and the settings."""
    with eng.store_cursor() as cur:
        row = cur.execute(
            "select (select coalesce(max(seq), 0) from events) || '/'"
            " || (select count(*) || ':' || coalesce(bit_xor(hash(seq, person_id)), 0)"
            "     from event_persons) || '/'"
            " || (select count(*) || ':' || coalesce(bit_xor(hash(kind, value, person_id)), 0)"
            "     from identities)"
        ).fetchone()
    rates = rates_fingerprint(eng.store, money.currency)
    return f"{row[0] if row else ''}|{config.model_dump_json()}|{rates}|{money.assume_missing}"


def run_profiles(
    eng: Engine, config: ProfileConfig, *, full: bool = True, money: Reporting | None = None
) -> dict[str, Any]:
    """Build ``profiles`` and ``profile_traits``.

    With ``full=False`` nothing is done when no event, person or setting changed since the
    last run; otherwise, on DuckDB, only the people whose events or identifiers changed since
    (:mod:`empatia.store.changes`) are rebuilt, and the columns that depend on everyone (RFM
    scores, CLV, recency against the latest event) are recomputed for all from the rows
    (:func:`~empatia.profiles.build.population_columns`). ``full=True``, another engine, new
    settings or rates, or an erasure since: everything is rebuilt. ``money`` is the reporting
    currency (default: EUR, orders without a currency left out of revenue).
    """
    money = money or Reporting()
    # an engine that rebuilds whole tables keeps no fingerprint: it would read every row of
    # event_persons and identities in the process that runs the stages (a cluster's driver);
    # the pipeline skips the stage on unchanged inputs anyway
    seen = _fingerprint(eng, config, money) if eng.incremental else None
    settings = f"{config.model_dump_json()}|{rates_fingerprint(eng.store, money.currency)}"
    settings += f"|{money.currency}|{money.assume_missing}"
    with eng.store_cursor() as con:
        if seen and not full and state.get(con, "profiles_state", "inputs") == seen:
            return {"profiles": "unchanged"}
        changes = changed_persons(con, "profiles", settings, also=(IDENTITIES,),
                                  full=full, incremental=eng.incremental)  # fmt: skip
        if changes.full:
            figures = _build(eng, con, config, money)
            figures["mode"] = "full" if changes.full == "full" else f"full ({changes.full})"
            save_marks(con, changes)
        else:
            figures = _update(eng, con, config, money, changes)
        if seen:
            state.put(con, "profiles_state", inputs=seen)
        else:
            state.drop(con, "profiles_state", "inputs")
    return figures


def _update(
    eng: Engine, con: Any, config: ProfileConfig, money: Reporting, changes: Changes
) -> dict[str, Any]:
    """Rebuild the rows of ``changes.persons`` only, then everyone's population columns."""
    if changes.persons:
        profiles, traits = build_profiles(eng, config, money, eng.table(CHANGED))
        mine = f"person_id in (select person_id from {CHANGED})"
        eng.write(profiles, "profiles", where=mine)
        eng.write(traits, "profile_traits", where=mine)
        as_of = eng.table("events").timestamp.max().to_pyarrow().as_py()
        clv = population_columns(eng, con, config, as_of)
        save_marks(con, changes)
    else:
        clv = "unchanged"
        save_marks(con, changes)
    counts = con.execute(
        "select (select count(*) from profiles), (select count(*) from profile_traits)"
    ).fetchone()
    return {"profiles": counts[0], "traits": counts[1], "mode": "incremental",
            "recomputed": len(changes.persons), "clv_model": clv}  # fmt: skip


def _build(eng: Engine, cur: Any, config: ProfileConfig, money: Reporting) -> dict[str, Any]:
    """Rebuild every profile (``cur``: the engine's store cursor, for the model's state)."""
    if not int(eng.table("event_persons").count().to_pyarrow().as_py()):
        for table in ("profiles", "profile_traits"):  # emptied (where they live: the lake too)
            eng.write(eng.table(table).limit(0), table)
        return {"profiles": 0, "traits": 0}
    fitted: dict[str, Any] = {}
    profiles, traits = build_profiles(eng, config, money, keep=fitted)
    n_traits = eng.write(traits, "profile_traits")
    n = eng.write(profiles, "profiles")
    state.drop(cur, "profiles_state", "clv_model")
    row = cur.execute("select max(as_of) from profiles").fetchall()
    if fitted and row and row[0][0] is not None:
        save_clv_model(cur, fitted, config, row[0][0])
    return {"profiles": n, "traits": n_traits}


class ProfilesStage:
    """One row per person: traits with their sources, activity, purchases, RFM, CLV, rhythm."""

    name = "profiles"
    reads = ("privacy_audit", "events", "event_persons", "identities", "merge_history", "exchange_rates")
    writes = ("profiles", "profile_traits", "profiles_state")

    def fingerprint(self, ctx: RunContext) -> str:
        """Beyond events and options: the exchange rates and the reporting currency."""
        money = Reporting.from_settings(ctx.workspace.settings)
        return f"{rates_fingerprint(ctx.store, money.currency)}|{money.assume_missing}"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        eng, own = engine_for(ctx)
        try:
            return run_profiles(
                eng,
                ctx.stages.profiles,
                full=ctx.full,
                money=Reporting.from_settings(ctx.workspace.settings),
            )
        finally:
            if own:
                eng.close()


STAGE = ProfilesStage()
