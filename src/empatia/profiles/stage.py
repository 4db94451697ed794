"""The ``profiles`` stage of ``empatia run``."""

from __future__ import annotations

from typing import Any

from empatia.pipeline import RunContext, register_stage
from empatia.profiles.build import build_profiles
from empatia.profiles.config import ProfileConfig
from empatia.store.engine import Engine, engine_for


def run_profiles(eng: Engine, config: ProfileConfig) -> dict[str, Any]:
    """Rebuild ``profiles`` and ``profile_traits`` (one full pass; they depend on every event)."""
    if not int(eng.table("event_persons").count().to_pyarrow().as_py()):
        cur = eng.store.con.cursor()
        cur.execute("delete from profiles")
        cur.execute("delete from profile_traits")
        cur.close()
        return {"profiles": 0, "traits": 0}
    profiles, traits = build_profiles(eng, config)
    n_traits = eng.write(traits, "profile_traits")
    n = eng.write(profiles, "profiles")
    return {"profiles": n, "traits": n_traits}


class ProfilesStage:
    """One row per person: traits with their sources, activity, purchases, RFM, CLV, rhythm."""

    name = "profiles"
    after: tuple[str, ...] = ("identity",)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        eng, own = engine_for(ctx)
        try:
            return run_profiles(eng, ProfileConfig.from_options(ctx.options))
        finally:
            if own:
                eng.close()


STAGE = register_stage(ProfilesStage())
