"""How customers feel, over HTTP: analyse texts, one person's emotions, touchpoints, themes.

    POST /v1/emotion/analyze        {"texts": ["Dzwoniłem siedem razy i nikt nie odbiera!"]}
    GET  /v1/emotion/persons/{id}   the person's summary and latest analysed texts (no text)
    GET  /v1/emotion/touchpoints    emotion per event and channel
    GET  /v1/emotion/themes         the theme anchors (PUT, admin: set them)

Reading and analysing are ``read``; choosing the analyzer and the themes is ``admin``, as
``empatia emotion use`` / ``themes-set`` are operators' commands.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from empatia.api.deps import AdminKey, ReadKey, WorkspaceDep, WriterDep
from empatia.api.writer import PrivacyWriter
from empatia.emotion import api
from empatia.emotion.incremental import set_config
from empatia.emotion.registry import ANALYZERS
from empatia.errors import ConfigError, ValidationError

router = APIRouter(prefix="/v1/emotion", tags=["emotion"])


class AnalyzeIn(BaseModel):
    texts: list[Annotated[str, Field(max_length=10_000)]] = Field(min_length=1, max_length=100)
    analyzer: str | None = Field(None, description=f"One of {', '.join(ANALYZERS)}; "
                                 "the workspace's choice when left out")  # fmt: skip


@router.post("/analyze")
async def analyze(body: AnalyzeIn, ws: WorkspaceDep, _: ReadKey) -> list[dict[str, Any]]:
    """Each text's language, sentiment, emotions, effort and escalation cues (nothing stored)."""
    try:
        return await run_in_threadpool(api.analyze_texts, ws, body.texts, body.analyzer)
    except ConfigError as e:  # the analyzer named in the body
        raise ValidationError(e.message, **e.details) from e


@router.get("/persons/{id}")
def person(id: str, ws: WorkspaceDep, _: ReadKey,
           limit: Annotated[int, Query(ge=0, le=1000)] = 50) -> dict[str, Any]:  # fmt: skip
    """How one person (any identifier) feels: summary and latest analysed texts."""
    return api.person_emotion(ws, id, limit=limit)


@router.get("/touchpoints")
def touchpoints(ws: WorkspaceDep, _: ReadKey) -> list[dict[str, Any]]:
    return api.touchpoints(ws)


@router.get("/themes")
def themes(ws: WorkspaceDep, _: ReadKey) -> dict[str, list[str]]:
    return api.themes(ws)


class ThemesIn(BaseModel):
    themes: dict[str, list[Annotated[str, Field(max_length=200)]]] = Field(max_length=200)
    replace: bool = Field(False, description="Drop the built-in themes instead of adding to them")


@router.put("/themes")
async def set_themes(body: ThemesIn, ws: WorkspaceDep, writer: WriterDep, _: AdminKey) -> Any:
    """Set the workspace's theme anchors; texts analysed from then on use them."""
    value = {**body.themes, **({"__replace__": True} if body.replace else {})}
    await _on_writer(writer, lambda: set_config(ws.store.con, "themes", orjson.dumps(value).decode()))
    return api.themes(ws)


class AnalyzerIn(BaseModel):
    analyzer: str = Field(description=f"One of {', '.join(ANALYZERS)}, or auto")


@router.put("/analyzer")
async def use(body: AnalyzerIn, ws: WorkspaceDep, writer: WriterDep, _: AdminKey) -> Any:
    """Choose the workspace's analyzer (texts already analysed keep their results)."""
    if body.analyzer not in ANALYZERS and body.analyzer != "auto":
        raise ValidationError(f"unknown analyzer {body.analyzer!r}; use one of "
                              f"{', '.join([*ANALYZERS, 'auto'])}")  # fmt: skip
    await _on_writer(writer, lambda: set_config(ws.store.con, "analyzer", body.analyzer))
    return {"analyzer": body.analyzer}


async def _on_writer(writer: PrivacyWriter, fn: Any) -> Any:
    return await asyncio.wrap_future(writer.call(fn))
