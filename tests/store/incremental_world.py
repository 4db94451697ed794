"""A small world run once, changed, then run incrementally and rebuilt in full (issue #14, #7).

:func:`run_both` gives, for every per-person stage, its figures of the incremental run and
its tables after it and after a ``--full`` rebuild on the same data: the two must be equal.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from empatia.pipeline import RunContext, run_pipeline
from empatia.workspace import Workspace

OPTS = {"emotion": {"analyzer": "fast", "themes": False}, "care": {"deliver": False}}

#: The tables of the incremental stages, and the columns that are times of the run itself.
TABLES: dict[str, tuple[str, ...]] = {
    "profiles": (), "profile_traits": (),
    "journey_steps": (), "journey_sessions": (), "journeys": (),
    "experience_journeys": (), "survey_responses": (), "experience_trajectories": (),
    "experience_gap": (), "experience_activity": (),
    "care_list": ("computed_at", "alert_id", "status"), "care_traits": (),
}  # fmt: skip


@dataclass
class Outcome:
    figures: dict[str, dict[str, Any]]  # stage -> figures of the incremental run
    incremental: dict[str, list[tuple[Any, ...]]]  # table -> rows after it
    full: dict[str, list[tuple[Any, ...]]]  # table -> rows after `--full` on the same data
    persons: int  # people with events after the change


def template(d: Path) -> Path:
    """A demo world of 100 customers, imported and run through the whole pipeline once."""
    from empatia.demo import build_world, import_world

    world = build_world(d / "world", customers=100, seed=5)
    db = d / "template.duckdb"
    with Workspace(db=db) as ws:
        import_world(ws.store, world)
        run_pipeline(RunContext(ws, settings=dict(OPTS)))
        ws.store.checkpoint()
    return db


def rows(ws: Workspace, table: str) -> list[tuple[Any, ...]]:
    con = ws.store.con
    cols = [r[0] for r in con.execute(f"describe {table}").fetchall()]
    keep = ", ".join(f'"{c}"' for c in cols if c not in TABLES.get(table, ()))
    rows = con.execute(f"select {keep} from {table} order by all").fetchall()
    return [tuple(_same(v) for v in r) for r in rows]


def _same(v: Any) -> Any:
    """NaN as a marker (it is not equal to itself); floats to 12 significant digits (DuckDB's
    parallel sums may differ in the last bit from one run to the next)."""
    if isinstance(v, float):
        return "NaN" if v != v else float(f"{v:.12g}")
    return v


def import_events(ws: Workspace, path: Path, events: list[dict[str, Any]]) -> None:
    from empatia.ingest import import_files

    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    path.write_text("".join(json.dumps({"timestamp": now, **e}) + "\n" for e in events))
    import_files(ws.store, [path])


def _users(ws: Workspace) -> list[tuple[str, str | None]]:
    """Users with their email (if any), people with orders first."""
    return ws.store.con.execute(
        "select u.value, min(e.value) from identities u join profiles p using (person_id)"
        " left join identities e on e.person_id = u.person_id and e.kind = 'email'"
        " where u.kind = 'user_id' group by u.value, p.orders order by p.orders desc, 1"
    ).fetchall()


def new_events(ws: Workspace) -> list[dict[str, Any]]:
    """An order and a message of existing people, a new person, an identify that merges two."""
    users = _users(ws)
    (buyer, _), (writer, _), (a, _) = users[0], users[1], users[2]
    b_email = next(e for u, e in users[3:] if e)
    return [
        {"type": "track", "event": "Order Completed", "userId": buyer, "messageId": "inc-1",
         "properties": {"order_id": "INC-1", "total": 120.0, "currency": "EUR"},
         "context": {"channel": "web"}},
        {"type": "track", "event": "Message Sent", "userId": writer, "messageId": "inc-2",
         "properties": {"text": "My parcel is late again and nobody answers, awful.",
                        "case_id": "INC-C1", "channel": "email"}, "context": {"channel": "email"}},
        {"type": "identify", "userId": "inc-new-user", "messageId": "inc-3",
         "traits": {"email": "inc.new@example.com", "firstName": "New"}},
        {"type": "track", "event": "Checkout Started", "userId": "inc-new-user",
         "messageId": "inc-4", "properties": {"order_id": "INC-2"}},
        {"type": "identify", "userId": a, "messageId": "inc-5", "traits": {"email": b_email}},
    ]  # fmt: skip


def run_both(src: Path, work: Path, *, erase: bool = False) -> Outcome:
    """Copy ``src``, change it (new events; ``erase``: also erase a person), run the pipeline
    incrementally, keep the tables, rebuild with ``--full``, keep them again."""
    db = work / "copy.duckdb"
    shutil.copy(src, db)
    with Workspace(db=db) as ws:
        events = new_events(ws)
        if erase:
            from empatia.privacy.erasure import erase as erase_person

            victim = _users(ws)[5][0]
            erase_person(ws.store, f"user_id:{victim}")
        import_events(ws, work / "new.jsonl", events)
        results = run_pipeline(RunContext(ws, settings=dict(OPTS)))
        figures = {r.name: r.figures for r in results}
        incremental = {t: rows(ws, t) for t in TABLES}
        run_pipeline(RunContext(ws, full=True, settings=dict(OPTS)))
        full = {t: rows(ws, t) for t in TABLES}
        row = ws.store.con.execute("select count(distinct person_id) from event_persons").fetchone()
    return Outcome(figures, incremental, full, int(row[0]) if row else 0)


def differences(outcome: Outcome, table: str) -> list[str]:
    """What differs between the incremental and the full rows of ``table`` (empty: equal)."""
    a, b = outcome.incremental[table], outcome.full[table]
    out = [f"{len(a)} rows vs {len(b)}"] if len(a) != len(b) else []
    for x, y in zip(a, b, strict=False):
        if x != y:
            cols = [i for i, (u, v) in enumerate(zip(x, y, strict=True)) if u != v]
            out.append(
                f"row {x[0]!s:.12}: columns {cols}: {[x[i] for i in cols]} vs {[y[i] for i in cols]}"
            )
        if len(out) > 5:
            break
    return out
