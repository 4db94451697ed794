"""Experience over HTTP (JSON for the web UI): scores, hygiene, effort, hurt journeys, gap.

A ``read`` key sees numbers and references to customers' words; an ``admin`` key also sees the
words themselves (as in special care).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from empatia import experience
from empatia.api.deps import ReadCursor, ReadKey, WorkspaceDep
from empatia.experience.surveys import summary

router = APIRouter(prefix="/v1/experience", tags=["experience"])


def _words_visible(key: Any) -> bool:
    return getattr(key, "scope", "read") == "admin"


@router.get("/scores")
def scores(cur: ReadCursor, key: ReadKey, survey: str | None = None, by: str | None = None,
           period: str = "month", include_excluded: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """NPS / CSAT / CES with 95% intervals, overall or by period, channel, touchpoint,
    journey_stage, market or language."""
    return experience.survey_scores(cur, survey=survey, by=by, period=period,
                                    include_excluded=include_excluded)  # fmt: skip


@router.get("/excluded")
def excluded(
    cur: ReadCursor, key: ReadKey, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> dict[str, Any]:
    """Answers left out of the scores, with the reason."""
    return {"summary": summary(cur),
            "responses": experience.excluded_responses(cur, limit, with_text=_words_visible(key))}  # fmt: skip


@router.get("/effort")
def effort(cur: ReadCursor, key: ReadKey, by: str = "topic") -> list[dict[str, Any]]:
    return experience.effort_summary(cur, by)


@router.get("/hurt")
def hurt(
    cur: ReadCursor,
    key: ReadKey,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    person_id: str | None = None,
) -> dict[str, Any]:
    """Succeeded-but-hurt journeys with evidence, and what happened after."""
    return {"journeys": experience.hurt_list(cur, limit, with_text=_words_visible(key),
                                             person_id=person_id),
            "after": experience.hurt_outcomes(cur)}  # fmt: skip


@router.get("/hurt/orders")
def hurt_orders(
    cur: ReadCursor,
    key: ReadKey,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    days: Annotated[float, Query(gt=0, le=3650)] = 30,
) -> list[dict[str, Any]]:
    """Delivered orders followed by a bad review or negative words within ``days``."""
    from empatia.experience.views import hurt_orders as orders

    return orders(cur, limit, days=days, with_text=_words_visible(key))


@router.get("/gap")
def gap(cur: ReadCursor, key: ReadKey) -> list[dict[str, Any]]:
    """The perception gap per touchpoint and overall (shares in 0..1)."""
    return experience.perception_gap(cur)


@router.get("/touchpoints")
def touchpoints(cur: ReadCursor, key: ReadKey) -> list[dict[str, Any]]:
    """How people feel at each text touchpoint (event × channel)."""
    return experience.touchpoints(cur)


@router.get("/trajectories")
def trajectories(cur: ReadCursor, key: ReadKey, direction: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 50) -> list[dict[str, Any]]:  # fmt: skip
    return experience.trajectories(cur, direction, limit)


@router.get("/persons/{person_id}")
def person(person_id: str, cur: ReadCursor, key: ReadKey) -> dict[str, Any]:
    """One person's emotional trajectory and their service journeys."""
    out = experience.trajectory(cur, person_id)
    out["hurt"] = experience.hurt_list(cur, 20, with_text=_words_visible(key), person_id=person_id)
    return out


@router.get("/persons/{person_id}/may-survey")
def may_survey(person_id: str, ws: WorkspaceDep, key: ReadKey) -> dict[str, Any]:
    ok, why = experience.may_survey(ws.store, person_id)
    return {"person_id": person_id, "allowed": ok, "reason": why}
