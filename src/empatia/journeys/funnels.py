"""Funnels: ordered steps, how many people reach each, where they drop, how long it takes.

A person enters at their first ``steps[0]`` in the period; each next step counts when it
happens after the previous one and within ``within`` of the entry. Runs as one SQL query on
``journey_steps`` (fast: 2M steps in well under a second).

>>> # funnel(con, ["Product Viewed", "Product Added", "Order Completed"], within_days=7)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from empatia.journeys.exceptions import FunnelError, JourneysNotBuiltError

_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

#: Breakdowns: the channel of the entry step, ``property:<name>`` of the entry event, or a
#: column of ``profiles``.
STEP_BREAKDOWNS = ("channel",)
PROFILE_BREAKDOWNS = ("market", "language", "tier", "preferred_channel", "rfm", "vip")


@dataclass
class FunnelStep:
    step: str
    persons: int
    conversion: float  # from the first step
    step_conversion: float  # from the step before
    drop_off: int  # people who reached the step before but not this one
    median_seconds: float | None  # from the step before (None for the first)


@dataclass
class Funnel:
    steps: list[FunnelStep]
    within_days: float
    median_seconds_to_convert: float | None
    breakdown: str | None = None
    groups: dict[str, list[FunnelStep]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


def funnel_sql(n: int, breakdown: str | None, where: str) -> str:
    """One query for ``n`` steps: the total row (``grp`` NULL) and, with a breakdown, one row
    per group (grouping sets). Parameters: ``$s0…`` step names, ``$within`` seconds."""
    # one scan per step: an equality filter is pushed into the scan, an IN list is not
    parts = [
        f'e{i} as (select person_id, "timestamp" as ts{", channel" if i == 0 else ""} '
        f"from journey_steps where step = $s{i}{where})"
        for i in range(n)
    ]
    if breakdown and breakdown.startswith("property:"):  # a property of the entry event
        parts[0] = (
            f'e0 as (select j.person_id, j."timestamp" as ts, '
            f"json_extract_string(ev.raw, '$.properties.{breakdown[9:]}') as channel "
            f"from journey_steps j join events ev using (seq) where j.step = $s0{where})"
        )
    bd = (
        "arg_min(channel, ts)"
        if breakdown in ("channel",) or (breakdown or "").startswith("property:")
        else "null::varchar"
    )
    parts.append(f"f0 as (select person_id, {bd} as grp, min(ts) as t0 from e0 group by person_id)")
    for i in range(1, n):
        parts.append(
            f"f{i} as (select f.person_id, any_value(f.t0) as t0, min(e.ts) as t{i} "
            f"from f{i - 1} f join e{i} e on e.person_id = f.person_id "
            f"and e.ts > f.t{i - 1} and e.ts <= f.t0 + to_seconds($within) group by f.person_id)"
        )
    joins = " ".join(f"left join (select person_id, t{i} from f{i}) using (person_id)"
                     for i in range(1, n))  # fmt: skip
    parts.append(f"w as (select * from f0 {joins})")
    if breakdown in PROFILE_BREAKDOWNS:
        grp = f"coalesce(p.{breakdown}::varchar, '(none)')"
        src = "w left join profiles p using (person_id)"
    else:
        grp = "coalesce(w.grp, '(none)')"
        src = "w"
    counts = ", ".join(
        ["count(*) as n0"] + [f"count(t{i}) as n{i}" for i in range(1, n)]
        + [f"median(epoch(t{i}) - epoch(t{i - 1})) as m{i}" for i in range(1, n)]
        + [f"median(epoch(t{n - 1}) - epoch(t0)) as m_all" if n > 1 else "null as m_all"]
    )  # fmt: skip
    if breakdown:
        sel = (
            f"select g as grp, {counts.replace('(t', '(w.t')} from (select *, {grp} as g "
            f"from {src}) w group by grouping sets ((), (g)) order by g nulls first"
        )
    else:
        sel = f"select null as grp, {counts} from {src}"
    return "with " + ",\n".join(parts) + "\n" + sel


def _steps(names: list[str], row: tuple[Any, ...]) -> list[FunnelStep]:
    n = len(names)
    counts = [int(c or 0) for c in row[1 : 1 + n]]
    medians = list(row[1 + n : 2 * n])
    out = []
    for i, name in enumerate(names):
        prev = counts[i - 1] if i else counts[0]
        out.append(FunnelStep(
            step=name, persons=counts[i],
            conversion=counts[i] / counts[0] if counts[0] else 0.0,
            step_conversion=counts[i] / prev if prev else 0.0,
            drop_off=prev - counts[i] if i else 0,
            median_seconds=float(medians[i - 1]) if i and medians[i - 1] is not None else None,
        ))  # fmt: skip
    return out


def funnel(
    con: duckdb.DuckDBPyConnection,
    steps: list[str],
    *,
    within_days: float = 30.0,
    breakdown: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    person_ids: list[str] | None = None,
) -> Funnel:
    """Compute a funnel over ``journey_steps``.

    ``breakdown``: ``channel`` or ``property:<name>`` (of the entry event), or a profile
    column (``market``, ``language``, ``tier``, …). ``person_ids`` limits it to an audience.
    """
    if len(steps) < 2:
        raise FunnelError("a funnel needs at least two steps", steps=steps)
    if len(steps) > 20:
        raise FunnelError("a funnel has at most 20 steps", steps=len(steps))
    if within_days <= 0:
        raise FunnelError("within_days must be positive", within_days=within_days)
    if (
        breakdown is not None
        and breakdown not in STEP_BREAKDOWNS + PROFILE_BREAKDOWNS
        and not (breakdown.startswith("property:") and _PROPERTY.fullmatch(breakdown[9:]))
    ):
        raise FunnelError(
            f"unknown breakdown {breakdown!r}; use one of "
            f"{', '.join(STEP_BREAKDOWNS + PROFILE_BREAKDOWNS)} or property:<name>",
            breakdown=breakdown,
        )
    if not _has(con, "journey_steps"):
        raise JourneysNotBuiltError()
    if breakdown in PROFILE_BREAKDOWNS and not _has(con, "profiles"):
        raise FunnelError(f"breakdown by {breakdown} needs profiles: run `empatia run` first")
    params: dict[str, Any] = {f"s{i}": s for i, s in enumerate(steps)}
    params["within"] = float(within_days) * 86400
    where = ""
    if start is not None:
        where += ' and "timestamp" >= $start'
        params["start"] = start
    if end is not None:
        where += ' and "timestamp" < $end'
        params["end"] = end
    if person_ids is not None:
        where += " and person_id in (select unnest($persons))"
        params["persons"] = list(person_ids)
    cur = con.cursor()
    try:
        rows = cur.execute(funnel_sql(len(steps), breakdown, where), params).fetchall()
    finally:
        cur.close()
    total = rows[0]
    result = Funnel(_steps(steps, total), within_days,
                    float(total[-1]) if total[-1] is not None else None, breakdown)  # fmt: skip
    for row in sorted(rows[1:], key=lambda r: -int(r[1] or 0)):
        result.groups[str(row[0])] = _steps(steps, row)
    return result
