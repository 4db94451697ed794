"""Journeys over HTTP (JSON for the web UI): funnels, paths (Sankey data), the journey map."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from empatia import journeys
from empatia.api.deps import ReadCursor, ReadKey
from empatia.journeys.config import load_stage_map

router = APIRouter(prefix="/v1/journeys", tags=["journeys"])


class FunnelRequest(BaseModel):
    steps: list[str] = Field(min_length=2, max_length=20, description="Ordered step names.")
    within_days: float = Field(30.0, gt=0, le=3650, description="Time from the first step to convert.")
    breakdown: str | None = Field(
        None, description="channel, property:<name>, market, language, tier, …"
    )
    start: datetime | None = None
    end: datetime | None = None
    person_ids: list[str] | None = Field(None, description="Limit to this audience.")


@router.post("/funnel")
def funnel(body: FunnelRequest, cur: ReadCursor, key: ReadKey) -> dict[str, Any]:
    """Conversion, drop-off and time to convert per step (optionally broken down)."""
    return journeys.funnel(cur, body.steps, within_days=body.within_days,
                           breakdown=body.breakdown, start=body.start, end=body.end,
                           person_ids=body.person_ids).as_dict()  # fmt: skip


@router.get("/funnel")
def funnel_get(cur: ReadCursor, key: ReadKey, step: list[str] = Query(...),  # noqa: B008
               within_days: Annotated[float, Query(gt=0, le=3650)] = 30.0, breakdown: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The same as ``POST /v1/journeys/funnel``: ``?step=A&step=B&step=C``."""
    return journeys.funnel(cur, step, within_days=within_days,
                           breakdown=breakdown).as_dict()  # fmt: skip


@router.get("/paths")
def paths(cur: ReadCursor, key: ReadKey, anchor: str, direction: str = "next", depth: Annotated[int, Query(ge=1, le=6)] = 3,
          top: Annotated[int, Query(ge=1, le=100)] = 8) -> dict[str, Any]:  # fmt: skip
    """The most common next/previous steps from ``anchor``: nodes and links for a Sankey."""
    return journeys.paths(cur, anchor, direction=direction, depth=depth, top=top)


@router.get("/map")
def journey_map(cur: ReadCursor, key: ReadKey, person_id: str | None = None,
                market: str | None = None, language: str | None = None,
                tier: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Stages × touchpoints with volume, conversion, time, effort and the emotion curve."""
    where = {k: v for k, v in {"market": market, "language": language, "tier": tier}.items() if v}

    return journeys.journey_map(cur, load_stage_map(cur), person_id=person_id, where=where)


@router.get("/stages")
def stages(cur: ReadCursor, key: ReadKey) -> dict[str, Any]:
    """The event → stage mapping in use."""
    m = load_stage_map(cur)
    return {"order": list(m.order), "map": m.mapping}


@router.get("/persons/{person_id}")
def person_journeys(person_id: str, cur: ReadCursor, key: ReadKey) -> list[dict[str, Any]]:
    """One person's purchase, service and booking journeys, newest first."""
    df = cur.execute(
        "select * from journeys where person_id = ? order by started_at desc limit 200",
        [person_id],
    ).df()
    return df.astype(object).where(df.notna(), None).to_dict("records")  # type: ignore[no-any-return]
