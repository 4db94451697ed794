"""Next-best action over HTTP: decide for one person now, read the batch decision.

    POST /v1/decide            {"person": "email:ala@example.com",
                                "context": {"channel": "app", "near_store": "S12",
                                            "category": "coffee_tea", "time": "…"}}
    GET  /v1/decisions/{person}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from empatia.api.deps import ReadKey, TenantDep, WorkspaceDep
from empatia.decide.api import decide_now, get_decision

router = APIRouter(prefix="/v1", tags=["decide"])


class LiveContextIn(BaseModel):
    channel: str | None = Field(None, description="where the person is: web, app, store, email…")
    near_store: str | None = Field(None, description="a store id the person is near")
    store_open: bool | None = None
    product_id: str | None = Field(None, description="the product on screen")
    category: str | None = Field(None, description="the session's current category")
    device: str | None = None
    time: datetime | None = None


class DecideIn(BaseModel):
    person: str = Field(..., description="any identifier (kind:value) or a person id")
    context: LiveContextIn = Field(default_factory=LiveContextIn)
    record: bool = Field(True, description="log it (counts towards contact fatigue once delivered)")
    checks: bool = Field(False, description="also ask privacy's progressive profiling and "
                         "experience's survey fatigue per person (slower: they read the event log)")


@router.post("/decide")
async def decide(body: DecideIn, tenant: TenantDep, _: ReadKey) -> Any:
    """The best action for this person now, with its reason, scores and policy notes.

    Needs a ``read`` key: the answer is about a person (who they are, what they bought), so
    the public write key a browser carries may not ask it, not even whether someone exists.

    Runs inline on the event loop: about a millisecond of work (one indexed lookup and the
    policy), cheaper than a hop to the thread pool. With ``checks`` it reads the event log."""
    ws, context = tenant.workspace, body.context.model_dump()
    if not tenant.realtime_started or body.checks:  # the first call loads consent: off the loop
        return await run_in_threadpool(lambda: decide_now(
            ws, body.person, context, record=body.record, realtime=tenant.realtime(),
            checks=body.checks,
        ))  # fmt: skip
    return decide_now(ws, body.person, context, record=body.record, realtime=tenant.realtime(),
                      checks=body.checks)  # fmt: skip


@router.get("/decisions/{person}")
def decision(person: str, ws: WorkspaceDep, _: ReadKey) -> Any:
    """The latest batch decision for a person (``empatia decide --all``)."""
    return get_decision(ws, person)
