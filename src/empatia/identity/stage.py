"""The ``identity`` stage of ``empatia run``."""

from __future__ import annotations

from typing import Any

from empatia.identity.config import IdentityConfig
from empatia.identity.incremental import WRITE_LOCK
from empatia.identity.resolve import resolve
from empatia.pipeline import RunContext, register_stage
from empatia.store.engine import engine_for


class IdentityStage:
    """Stitch every identifier into persons: identities, event_persons, merge history."""

    name = "identity"
    after: tuple[str, ...] = ()

    def run(self, ctx: RunContext) -> dict[str, Any]:
        config = IdentityConfig.from_options(ctx.options)
        eng, own = engine_for(ctx)
        try:
            with WRITE_LOCK:
                return resolve(eng, config, full=ctx.full, progress=ctx.progress)
        finally:
            if own:
                eng.close()


STAGE = register_stage(IdentityStage())
