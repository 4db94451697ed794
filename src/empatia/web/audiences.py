"""Audiences: people chosen by profile and experience, sized at once, exported with consent.

The filters, the consent rules and the audit of exports live in :mod:`empatia.views.audiences`;
these pages read the form, call it and draw the answer. Exporting (contact details) needs an
admin key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from empatia.errors import ForbiddenError
from empatia.views.audiences import (
    DIRECTIONS,
    PURPOSES,
    AudienceFilters,
    as_csv,
    export,
    options,
    size,
)
from empatia.views.sections import Section, produced, table_names
from empatia.web.auth import WebKey, WebWorkspace, may_see_words
from empatia.web.render import render

router = APIRouter(include_in_schema=False)


def _size(cur: Any, filters: AudienceFilters) -> Section:
    return produced(lambda: size(cur, filters))


@router.get("/audiences")
def audiences_page(request: Request, key: WebKey, ws: WebWorkspace) -> Response:
    filters = AudienceFilters.from_query(request.query_params)
    cur = ws.store.cursor()
    try:
        ctx: dict[str, Any]
        ctx = {"opts": options(cur), "q": dict(request.query_params), "size": _size(cur, filters),
               "purposes": PURPOSES, "directions": DIRECTIONS, "t": table_names(cur)}  # fmt: skip
    finally:
        cur.close()
    return render(request, "audiences.html", nav="audiences", **ctx)


@router.get("/audiences/size")
def audience_size(request: Request, key: WebKey, ws: WebWorkspace) -> Response:
    filters = AudienceFilters.from_query(request.query_params)
    cur = ws.store.cursor()
    try:
        s = _size(cur, filters)
    finally:
        cur.close()
    return render(request, "_audience_size.html", size=s, q=dict(request.query_params))


@router.get("/audiences/export.csv")
def audience_export(request: Request, key: WebKey, ws: WebWorkspace) -> Response:
    """The people of the audience whose consent allows the purpose; admin keys only."""
    if not may_see_words(key):
        raise ForbiddenError("exporting contact details needs an admin key", key_id=key.key_id)
    filters = AudienceFilters.from_query(request.query_params)
    table = export(ws.store, filters, actor=f"key:{key.key_id}", via="web")
    return Response(as_csv(table), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audience-{filters.purpose}.csv"',
        "Cache-Control": "no-store"})  # fmt: skip
