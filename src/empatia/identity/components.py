"""Connected components as a loop of Ibis joins and aggregates, so it runs on every engine.

Each round every node points at the smallest node of its closed neighbourhood; pointer
jumping follows those pointers to their roots (a forest, as pointers only go down); the
edges are then rewritten between roots and self-loops dropped. The graph shrinks quickly —
a path of a million nodes collapses in one round of ~20 jumps — and the loop ends when no
edge is left.

>>> import ibis
>>> from empatia.store import Store
>>> from empatia.store.engine import connect
>>> with Store(":memory:") as s:
...     eng = connect(s)
...     edges = ibis.memtable({"a": [1, 2, 5], "b": [2, 3, 6]})
...     out = components(eng, edges).order_by("node").to_pyarrow().to_pydict()
>>> out["label"]
[1, 1, 1, 5, 5]
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from empatia.store.engine import Engine, union

MAX_ROUNDS = 64


def _scalar(expr: ir.Scalar) -> int:
    value = expr.to_pyarrow().as_py()
    return int(value or 0)


def components(eng: Engine, edges: ir.Table, nodes: ir.Table | None = None) -> ir.Table:
    """``(node, label)`` for integer ``edges(a, b)``: ``label`` is the smallest node of the
    node's component. ``nodes`` (a table with column ``node``) adds isolated nodes."""
    e = eng.materialize(
        edges.filter(edges.a != edges.b)
        .select(a=ibis.least(edges.a, edges.b), b=ibis.greatest(edges.a, edges.b))
        .distinct(),
        "cc_edges",
    )
    all_nodes = union(e.select(node=e.a), e.select(node=e.b), distinct=True)
    if nodes is not None:
        all_nodes = union(all_nodes, nodes.select("node"), distinct=True)
    labels = eng.materialize(all_nodes.select("node", label=all_nodes.node), "cc_labels")

    for _round in range(MAX_ROUNDS):
        if _scalar(e.count()) == 0:
            break
        # 1. hook: each node points at the smallest node of its closed neighbourhood
        sym = union(e.select(u=e.a, v=e.b), e.select(u=e.b, v=e.a), distinct=False)
        parent = sym.group_by("u").aggregate(p=sym.v.min())
        parent = eng.materialize(
            parent.select(node=parent.u, p=ibis.least(parent.u, parent.p)), "cc_parent"
        )
        # 2. pointer jumping until every node points at its root
        while True:
            q = parent.view()
            jumped = parent.join(q, parent.p == q.node).select(
                node=parent.node, p=q.p, moved=(q.p != parent.p)
            )
            nxt = eng.materialize(jumped, "cc_parent")
            eng.drop_temp(parent)
            parent = nxt
            if _scalar(parent.moved.any().cast("int8")) == 0:
                break
        # 3. contract edges onto roots; relabel every node whose label moved
        pa_, pb = parent.view(), parent.view()
        contracted = e.join(pa_, e.a == pa_.node).join(pb, e.b == pb.node).select(x=pa_.p, y=pb.p)
        contracted = contracted.filter(contracted.x != contracted.y)
        new_e = eng.materialize(
            contracted.select(
                a=ibis.least(contracted.x, contracted.y),
                b=ibis.greatest(contracted.x, contracted.y),
            ).distinct(),
            "cc_edges",
        )
        eng.drop_temp(e)
        e = new_e
        relabel = labels.left_join(parent, labels.label == parent.node).select(
            node=labels.node, label=ibis.coalesce(parent.p, labels.label)
        )
        new_labels = eng.materialize(relabel, "cc_labels")
        eng.drop_temp(labels)
        eng.drop_temp(parent)
        labels = new_labels
    else:  # pragma: no cover - a graph needs 2^64 nodes to get here
        raise RuntimeError("connected components did not converge")
    eng.drop_temp(e)
    return labels
