"""The ``decide`` stage of ``empatia run``: train when due, then decisions (issue #8).

Training runs on a schedule or when enough changed (see :mod:`empatia.decide.refresh`); other
runs re-decide only for the people whose inputs changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from empatia.pipeline import RunContext


class DecideStage:
    """Next-best action for every person, explained."""

    name = "decide"
    reads = ("events", "event_persons", "identities", "profiles", "text_analysis", "experience_journeys",
             "journey_unresolved", "care_list", "consent_current", "exchange_rates")
    writes = ("decide_inputs", "decide_runs", "decisions")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from empatia.decide.catalogue import load_catalogue
        from empatia.decide.engine import run
        from empatia.decide.refresh import changed_people, refresh, retrain_reason

        store = ctx.store
        settings = ctx.stages.decide
        export = settings.export
        catalogue = load_catalogue(settings.actions_file)
        reason = retrain_reason(store, settings, full=ctx.full)
        if reason is None:
            people = changed_people(store)
            if len(people) <= settings.refresh_max:
                figures = refresh(store, people, catalogue)
                if export:
                    _export(store, export)
                return figures
            reason = f"{len(people)} people changed"
        figures = run(store, export=export,
                      catalogue=catalogue, progress=ctx.progress.advance)  # fmt: skip
        return {"retrained": reason, **figures}


def _export(store: Any, path: Path) -> None:
    frame = store.con.execute("select * from decisions order by person_id").df()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


STAGE = DecideStage()
