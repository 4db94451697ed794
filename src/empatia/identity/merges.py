"""Writing ``merge_history``: which people a run merged or split, and the evidence.

A previous person whose identifiers now sit in a component with another id was *merged*
(its id is gone) or *split* (it kept its id elsewhere). The evidence is the first edge that
joins one of its identifiers to one that was not its own, with the event that carried it.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
from ibis import _

from empatia.store.engine import Engine


def record_merges(
    eng: Engine,
    identities: ir.Table,
    prev: ir.Table,
    edges: ir.Table,
    run_id: str,
    now: datetime,
) -> dict[str, int]:
    """Append this run's merges and splits to ``merge_history`` and ``merge_identifiers``."""
    moved = identities.join(prev, ["kind", "value"]).filter(_.prev_pid != _.person_id)
    moved = eng.materialize(
        moved.select("kind", "value", "node", "person_id", other="prev_pid"), "moved"
    )
    n = int(moved.count().to_pyarrow().as_py())
    if n == 0:
        return {"merges": 0}
    kept = identities.select(kept="person_id").distinct()
    groups = moved.group_by("person_id", "other").aggregate(identifiers=_.count().cast("int64"))
    g = groups.left_join(kept, groups.other == kept.kept)
    groups = g.select(
        "person_id", "other", "identifiers",
        action=ibis.cases((g.kept.isnull(), "merge"), else_="split"),
        merge_id=ibis.literal(f"m_{run_id}_").concat(
            g.person_id.concat("|", g.other).hexdigest("md5").substr(0, 12)
        ),
    )  # fmt: skip
    # evidence: the first edge joining an identifier that moved with one that did not
    pv = identities.join(prev, ["kind", "value"], how="left").select(
        "node", "kind", "value", "person_id", "prev_pid"
    )
    x, y = moved.view(), pv.view()
    ev = (
        edges.join(x, (edges.a == x.node) | (edges.b == x.node))
        .join(y, ibis.cases((edges.a == x.node, edges.b), else_=edges.a) == y.node)
        .filter((y.person_id == x.person_id) & (y.prev_pid.isnull() | (y.prev_pid != x.other)))
        .select(
            person_id=x.person_id, other=x.other, seq=edges.seq,
            text=x.kind.concat(":", x.value, " ~ ", y.kind, ":", y.value),
        )
    )  # fmt: skip
    w = ibis.window(group_by=["person_id", "other"], order_by=[ev.seq.isnull(), ev.seq, ev.text])
    ev = ev.mutate(r=ibis.row_number().over(w)).filter(_.r == 0)
    rows = groups.left_join(ev, ["person_id", "other"]).select(
        "merge_id",
        merged_at=ibis.literal(now),
        run_id=ibis.literal(run_id),
        action="action",
        person_id="person_id",
        other_person_id="other",
        identifiers="identifiers",
        reason=ibis.cases(
            (_.seq.notnull(), "shared identifier"),
            (_.text.notnull(), "probabilistic match"),
            else_="connected through other identifiers",
        ),
        evidence=ibis.cases(
            (_.seq.notnull(), _.text.concat(" (event ", _.seq.cast("string"), ")")),
            else_=_.text,
        ),
    )
    rows = eng.materialize(rows, "merges")
    eng.write(rows, "merge_history", replace=False)
    members = moved.join(
        rows, [moved.person_id == rows.person_id, moved.other == rows.other_person_id]
    )
    eng.write(
        members.select(rows.merge_id, moved.kind, moved.value), "merge_identifiers", replace=False
    )
    return {"merges": int(rows.count().to_pyarrow().as_py())}
