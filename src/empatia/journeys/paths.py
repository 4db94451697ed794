"""Paths: the most common next (or previous) steps from any step, as Sankey data.

Each occurrence of the anchor step is followed ``depth`` steps forward (or backward) within
the same session; a path that ends early goes to ``(end)`` (``(start)`` backwards). Repeats
of the same step in a row count once, so "Product Viewed ×5" is one step.

The answer is nodes (``"<level>:<step>"``) and weighted links, ready for a Sankey chart.
"""

from __future__ import annotations

from typing import Any

import duckdb

from empatia.journeys.exceptions import FunnelError, JourneysNotBuiltError
from empatia.journeys.funnels import _has

END, START = "(end)", "(start)"


def paths(
    con: duckdb.DuckDBPyConnection,
    anchor: str,
    *,
    direction: str = "next",
    depth: int = 3,
    top: int = 8,
    person_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Steps after (``next``) or before (``previous``) ``anchor``, ``depth`` levels deep.

    ``top`` keeps the most common steps per level; the rest are grouped as ``(other)``.
    """
    if direction not in ("next", "previous"):
        raise FunnelError(f"direction must be next or previous, not {direction!r}")
    if not 1 <= depth <= 6:
        raise FunnelError("depth must be between 1 and 6", depth=depth)
    if not _has(con, "journey_steps"):
        raise JourneysNotBuiltError()
    fn = "lead" if direction == "next" else "lag"
    sentinel = END if direction == "next" else START
    where = "and person_id in (select unnest($persons))" if person_ids is not None else ""
    order = 'order by "timestamp", seq'
    w = f"over (partition by person_id, session_no {order})"
    cols = ", ".join(
        f"coalesce({fn}(step, {k}) {w}, '{sentinel}') as s{k}" for k in range(1, depth + 1)
    )
    sql = f"""
    with a as (  -- only the sessions where the anchor happens
        select distinct person_id, session_no from journey_steps where step = $anchor {where}
    ), d as (  -- collapse repeats of the same step in a row
        select person_id, session_no, "timestamp", seq, step from (
            select s.*, lag(s.step) over (partition by s.person_id, s.session_no {order}) as prev
            from journey_steps s semi join a
                on s.person_id = a.person_id and s.session_no = a.session_no
        ) where prev is distinct from step
    ), p as (
        select step as s0, {cols} from d
    )
    select {", ".join(f"s{k}" for k in range(0, depth + 1))}, count(*) as n
    from p where s0 = $anchor group by all
    """
    params: dict[str, Any] = {"anchor": anchor}
    if person_ids is not None:
        params["persons"] = list(person_ids)
    cur = con.cursor()
    try:
        rows = cur.execute(sql, params).fetchall()
    finally:
        cur.close()
    total = sum(int(r[-1]) for r in rows)
    # after the sentinel, nothing more: cut paths at their first sentinel
    cut: dict[tuple[str, ...], int] = {}
    for r in rows:
        seq = list(r[: depth + 1])
        if sentinel in seq:
            seq = seq[: seq.index(sentinel) + 1]
        key = tuple(seq)
        cut[key] = cut.get(key, 0) + int(r[-1])
    # keep the top steps per level
    keep: list[set[str]] = []
    for level in range(depth + 1):
        counts: dict[str, int] = {}
        for key, n in cut.items():
            if level < len(key):
                counts[key[level]] = counts.get(key[level], 0) + n
        best = sorted(counts, key=lambda s: -counts[s])[:top]
        keep.append(set(best) | {sentinel})
    links: dict[tuple[str, str], int] = {}
    level_counts: list[dict[str, int]] = [{} for _ in range(depth + 1)]
    for key, n in cut.items():
        names = [k if k in keep[i] else "(other)" for i, k in enumerate(key)]
        for i, name in enumerate(names):
            level_counts[i][name] = level_counts[i].get(name, 0) + n
        for i in range(len(names) - 1):
            a, b = f"{i}:{names[i]}", f"{i + 1}:{names[i + 1]}"
            links[(a, b)] = links.get((a, b), 0) + n
    nodes = [{"id": f"{i}:{name}", "level": i, "step": name, "count": c}
             for i, lc in enumerate(level_counts) for name, c in sorted(lc.items(), key=lambda x: -x[1])]  # fmt: skip
    first = sorted(level_counts[1].items(), key=lambda x: -x[1]) if depth >= 1 else []
    return {
        "anchor": anchor, "direction": direction, "depth": depth, "occurrences": total,
        "top": [{"step": s, "count": c, "share": c / total if total else 0.0} for s, c in first],
        "nodes": nodes,
        "links": [{"source": a, "target": b, "value": v}
                  for (a, b), v in sorted(links.items(), key=lambda x: -x[1])],
    }  # fmt: skip
