"""The ``profiles`` stage of ``empatia run``."""

from __future__ import annotations

from typing import Any

from empatia.pipeline import RunContext, register_stage
from empatia.profiles.build import build_profiles
from empatia.profiles.config import ProfileConfig
from empatia.profiles.money import Reporting, rates_fingerprint
from empatia.store.engine import Engine, engine_for


def _fingerprint(eng: Engine, config: ProfileConfig, money: Reporting) -> str:
    """What profiles depend on: the events, who they belong to, the rates and the settings."""
    cur = eng.store.con.cursor()
    row = cur.execute(
        "select (select coalesce(max(seq), 0) from events) || '/'"
        " || (select count(*) || ':' || coalesce(bit_xor(hash(seq, person_id)), 0)"
        "     from event_persons) || '/'"
        " || (select count(*) || ':' || coalesce(bit_xor(hash(kind, value, person_id)), 0)"
        "     from identities)"
    ).fetchone()
    cur.close()
    rates = rates_fingerprint(eng.store, money.currency)
    return f"{row[0] if row else ''}|{config.model_dump_json()}|{rates}|{money.assume_missing}"


def run_profiles(
    eng: Engine, config: ProfileConfig, *, full: bool = True, money: Reporting | None = None
) -> dict[str, Any]:
    """Rebuild ``profiles`` and ``profile_traits`` (one full pass; they depend on every event).

    With ``full=False`` nothing is done when no event, person or setting changed since the
    last run. ``money`` is the reporting currency (default: EUR, orders without a currency
    left out of revenue).
    """
    money = money or Reporting()
    seen = _fingerprint(eng, config, money)
    cur = eng.store.con.cursor()
    row = cur.execute("select value from profiles_state where key = 'inputs'").fetchone()
    cur.close()
    if not full and row is not None and row[0] == seen:
        return {"profiles": "unchanged"}
    figures = _build(eng, config, money)
    eng.store.con.cursor().execute(
        "insert or replace into profiles_state values ('inputs', ?)", [seen]
    )
    return figures


def _build(eng: Engine, config: ProfileConfig, money: Reporting) -> dict[str, Any]:
    if not int(eng.table("event_persons").count().to_pyarrow().as_py()):
        cur = eng.store.con.cursor()
        cur.execute("delete from profiles")
        cur.execute("delete from profile_traits")
        cur.close()
        return {"profiles": 0, "traits": 0}
    profiles, traits = build_profiles(eng, config, money)
    n_traits = eng.write(traits, "profile_traits")
    n = eng.write(profiles, "profiles")
    return {"profiles": n, "traits": n_traits}


class ProfilesStage:
    """One row per person: traits with their sources, activity, purchases, RFM, CLV, rhythm."""

    name = "profiles"
    after: tuple[str, ...] = ("identity", "privacy")

    def fingerprint(self, ctx: RunContext) -> str:
        """Beyond events and options: the exchange rates and the reporting currency."""
        money = Reporting.from_settings(ctx.workspace.settings)
        return f"{rates_fingerprint(ctx.workspace.store, money.currency)}|{money.assume_missing}"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        eng, own = engine_for(ctx)
        try:
            return run_profiles(
                eng,
                ProfileConfig.from_options(ctx.options),
                full=ctx.full,
                money=Reporting.from_settings(ctx.workspace.settings),
            )
        finally:
            if own:
                eng.close()


STAGE = register_stage(ProfilesStage())
