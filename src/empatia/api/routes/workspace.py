"""``POST /admin/workspace/{method}``: a :class:`~empatia.workspace.Workspace` method, run by
the server that owns the store for a CLI or Python process that cannot open it.

Only the methods marked :func:`~empatia.workspace.through_server` are callable: ``write`` ones
on the writer thread (events sent meanwhile are committed after them), ``read`` ones in a
thread beside it. The body is a JSON object of keyword arguments, checked against the method's
signature; Arrow tables are answered as an Arrow IPC stream, everything else as JSON.
"""

from __future__ import annotations

import asyncio
import inspect
from functools import cache, partial
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

import empatia.workspace as workspace_module
from empatia.api.deps import AdminKey, TenantDep
from empatia.errors import NotFoundError, ValidationError
from empatia.remote import ARROW_STREAM
from empatia.workspace import THROUGH_SERVER, Workspace

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/workspace/{method}")
async def workspace_method(
    method: str, tenant: TenantDep, request: Request, _: AdminKey
) -> Response:
    """Run ``Workspace.<method>(**body)`` on the server's workspace (what ``empatia.Workspace``
    and the CLI do by themselves while the server owns the store). Example:
    ``curl -X POST -H "Authorization: Bearer $ADMIN" -d '{"identifier": "email:ada@example.com"}'
    …/admin/workspace/profile``."""
    kind = THROUGH_SERVER.get(method)
    if kind is None:
        raise NotFoundError(f"no workspace method {method!r}; one of {', '.join(sorted(THROUGH_SERVER))}",
                            method=method)  # fmt: skip
    kwargs = _arguments(method, await request.body())
    call = partial(getattr(tenant.workspace, method), **kwargs)
    if kind == "write":
        try:
            result = await asyncio.wrap_future(tenant.writer.call(call))
        finally:  # what the server keeps in memory follows what the method may have changed
            tenant.tombstones.refresh()
            tenant.keyring.refresh()
    else:
        result = await run_in_threadpool(call)
    return _answer(result)


def _arguments(method: str, body: bytes) -> dict[str, Any]:
    """The body's keyword arguments, bound to the method's signature and checked by type."""
    try:
        kwargs = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as e:
        raise ValidationError(f"{method}: the body must be a JSON object of arguments ({e})") from e
    if not isinstance(kwargs, dict):
        raise ValidationError(f"{method}: the body must be a JSON object of arguments, e.g. {{}}")
    params = _parameters(method)
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ValidationError(f"{method}: no argument {', '.join(map(repr, unknown))}; "
                              f"it takes {', '.join(params) or 'none'}", method=method)  # fmt: skip
    missing = [n for n, (_, required) in params.items() if required and n not in kwargs]
    if missing:
        raise ValidationError(f"{method}: missing argument {', '.join(map(repr, missing))}",
                              method=method)  # fmt: skip
    checked: dict[str, Any] = {}
    for name, value in kwargs.items():
        try:
            checked[name] = params[name][0].validate_python(value)
        except PydanticValidationError as e:
            problem = e.errors()[0]["msg"] if e.errors() else str(e)
            raise ValidationError(f"{method}: argument {name!r}: {problem}", method=method) from e
    return checked


@cache
def _parameters(method: str) -> dict[str, tuple[TypeAdapter[Any], bool]]:
    """Name → (a checker of its annotation, whether it is required) for the arguments that
    may travel (not ``self``, not the method's local-only ones)."""
    fn = getattr(Workspace, method)
    local_only = getattr(fn, "local_only", ())
    hints = vars(workspace_module)
    out: dict[str, tuple[TypeAdapter[Any], bool]] = {}
    for name, p in list(inspect.signature(fn).parameters.items())[1:]:
        if name in local_only or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = eval(p.annotation, hints) if isinstance(p.annotation, str) else p.annotation  # noqa: S307 - our own annotations
        out[name] = (TypeAdapter(annotation), p.default is inspect.Parameter.empty)
    return out


def _answer(result: Any) -> Response:
    import pyarrow as pa

    if isinstance(result, pa.Table):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, result.schema) as writer:
            writer.write_table(result)
        return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)
    body = orjson.dumps(result, default=str,
                        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)  # fmt: skip
    return Response(body, media_type="application/json")
