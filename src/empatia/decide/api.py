"""The Python API of decide: what the CLI and the HTTP routes call.

>>> from empatia.workspace import Workspace
>>> ws = Workspace(db=":memory:")
>>> decide_everyone(ws)["decisions"]
0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from empatia.decide.catalogue import Catalogue, load_catalogue
from empatia.decide.policy import LiveContext
from empatia.decide.realtime import RealTime
from empatia.errors import NotFoundError
from empatia.store import Store


def _store(ws: Any) -> Store:
    return getattr(ws, "store", ws)


def _catalogue(ws: Any, path: str | Path | None = None) -> Catalogue:
    """``path``, else the workspace's ``[stages.decide] actions_file``, else the shipped one."""
    settings = getattr(ws, "settings", None)
    return load_catalogue(path or (settings.stages.decide.actions_file if settings else None))


def resolve(ws: Any, identifier: str) -> str:
    """A person id from any identifier (profiles' resolver), or the id itself."""
    store = _store(ws)
    if store.table_exists("identities"):
        from empatia.profiles.api import find_person

        try:
            return find_person(store, identifier)
        except NotFoundError:
            pass
    with store.read() as cur:
        row = cur.execute("select person_id from decide_inputs where person_id = ?",
                          [identifier]).fetchone()
    if row is None:
        raise NotFoundError(f"no person has the identifier {identifier!r}; run `empatia run` "
                            "(or `empatia decide --all`) if they are new", identifier=identifier)
    return str(row[0])


def decide_everyone(ws: Any, *, export: Path | None = None, actions: Path | None = None,
                    progress: Any = None) -> dict[str, Any]:
    """Train and write one decision per person (``decisions``, plus Parquet/CSV ``export``)."""
    from empatia.decide.engine import run

    return run(_store(ws), export=export, catalogue=_catalogue(ws, actions), progress=progress)


def decide_now(ws: Any, identifier: str, context: dict[str, Any] | None = None, *,
               record: bool = True, realtime: RealTime | None = None,
               checks: bool | None = None) -> dict[str, Any]:
    """Decide for one person now, with live context (channel, near_store, category, …).
    Servers pass their long-lived ``realtime``; without it one is opened for this call, with
    the other stages' per-person checks (progressive profiling, survey fatigue) switched on."""
    store = _store(ws)
    rt = realtime or RealTime(store, _catalogue(ws), background=False, checks=True)
    live = LiveContext(**{k: v for k, v in (context or {}).items() if v is not None})
    if rt.inputs(identifier.strip()) is not None:  # a person id: no identity lookup needed
        pid = identifier.strip()
    else:
        pid = resolve(store, identifier)
    return rt.decide(pid, live, record=record, checks=checks).as_dict()


def get_decision(ws: Any, identifier: str) -> dict[str, Any]:
    """The latest batch decision of a person."""
    store = _store(ws)
    pid = resolve(store, identifier)
    with store.read() as cur:
        res = cur.execute("select * from decisions where person_id = ?", [pid])
        names = [d[0] for d in res.description]
        row = res.fetchone()
    if row is None:
        raise NotFoundError(f"no decision for {identifier!r} yet; run `empatia decide --all`",
                            identifier=identifier)
    d = dict(zip(names, row, strict=True))
    for k in ("items", "scores", "policy"):
        if isinstance(d.get(k), str):
            d[k] = orjson.loads(d[k])
    for k in ("expires_at", "decided_at"):
        d[k] = d[k].isoformat() if d.get(k) is not None else None
    d["item_names"] = item_names(d.get("items"), d.get("scores"))
    return d


def item_names(items: list[str] | None, scores: dict[str, Any] | None) -> list[str]:
    """The products of a decision by name (the SKU only when the shop never sent a name)."""
    return [((scores or {}).get(i) or {}).get("name") or i for i in items or []]
