"""Audiences over HTTP: size, members and the consent-respecting export.

The filters are :class:`~empatia.views.audiences.AudienceFilters` as query parameters; an
unknown filter or a value of the wrong kind is a 400 naming it. Scopes: sizing and listing
members (ids and profile figures, never contact details) need a ``read`` key; the export
(names, e-mail, phone) needs ``admin`` and is written to the privacy audit log. The public
``write`` key reads nothing here.

    GET /v1/audiences/size?market=PL&min_orders=2
    GET /v1/audiences/members?market=PL&limit=100&format=csv
    GET /v1/audiences/export?market=PL&purpose=marketing_sms
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import orjson
import pyarrow as pa
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from empatia.api.deps import AdminKey, ReadKey, TenantDep, WorkspaceDep
from empatia.views.audiences import (
    EXPORT_COLUMNS,
    MEMBER_COLUMNS,
    AudienceFilters,
    AudienceSize,
    as_csv,
    export,
    members,
    size,
)

router = APIRouter(prefix="/v1/audiences", tags=["audiences"])


class MembersQuery(AudienceFilters):
    limit: int = Field(100, ge=1, le=10_000, description="How many people at most.")
    offset: int = Field(0, ge=0, description="How many to skip (by person id).")
    format: Literal["json", "csv"] = "json"


class ExportQuery(AudienceFilters):
    format: Literal["csv", "json"] = "csv"


def _answer(table: pa.Table, fmt: str, columns: tuple[str, ...], name: str) -> Response:
    headers = {"Cache-Control": "no-store"}
    if fmt == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return Response(as_csv(table, columns), media_type="text/csv; charset=utf-8",
                        headers=headers)  # fmt: skip
    return Response(orjson.dumps(table.to_pylist(), option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json", headers=headers)  # fmt: skip


@router.get("/size")
def audience_size(filters: Annotated[AudienceFilters, Query()], ws: WorkspaceDep,
                  _: ReadKey) -> AudienceSize:  # fmt: skip
    """How many people the filters choose (those whose consent allows audiences) and how
    many of them allow ``purpose`` now; 409 before profiles and consent exist."""
    return size(ws.store, filters)


@router.get("/members")
async def audience_members(q: Annotated[MembersQuery, Query()], tenant: TenantDep,
                           key: ReadKey) -> Response:  # fmt: skip
    """The audience's people by person id with their profile figures (no contact details),
    a page at a time; the read is written to the audit log."""
    store = tenant.workspace.store
    table = await asyncio.to_thread(members, store, q, limit=q.limit, offset=q.offset)

    def log() -> None:
        from empatia.privacy import audit

        audit.log(store, f"key:{key.key_id}", "read", None,
                  f"GET /v1/audiences/members: {table.num_rows} people")  # fmt: skip

    await asyncio.wrap_future(tenant.writer.call(log))
    return _answer(table, q.format, MEMBER_COLUMNS, "audience-members")


@router.get("/export")
async def audience_export(q: Annotated[ExportQuery, Query()], tenant: TenantDep,
                          key: AdminKey) -> Any:  # fmt: skip
    """The audience's people who allow ``purpose`` now, with their contact details (CSV, or
    JSON with ``format=json``); written to the privacy audit log. 403 while consent is
    unknown."""
    store = tenant.workspace.store
    table = await asyncio.wrap_future(tenant.writer.call(
        lambda: export(store, q, actor=f"key:{key.key_id}", via="api")))  # fmt: skip
    return _answer(table, q.format, EXPORT_COLUMNS, f"audience-{q.purpose}")
