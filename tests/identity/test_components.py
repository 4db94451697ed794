from __future__ import annotations

import ibis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from empatia.identity.components import components
from empatia.store.engine import Engine

edges_st = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=60)


def union_find(edges: list[tuple[int, int]]) -> dict[int, int]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent)}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edges_st)
def test_components_match_union_find(duck: Engine, edges: list[tuple[int, int]]) -> None:
    data = {"a": [a for a, _ in edges], "b": [b for _, b in edges]}
    t = ibis.memtable(data, schema={"a": "int64", "b": "int64"})
    got = components(duck, t).to_pyarrow().to_pydict()
    expected = {x: r for x, r in union_find(edges).items() if any(x in e for e in edges)}
    # self-loops only (a == b) make no component
    expected = {x: r for x, r in expected.items() if any(x in e and e[0] != e[1] for e in edges)}
    assert dict(zip(got["node"], got["label"], strict=True)) == expected


def test_a_long_chain_collapses(duck: Engine) -> None:
    n = 5000
    t = ibis.memtable({"a": list(range(n - 1)), "b": list(range(1, n))})
    out = components(duck, t)
    assert out.label.nunique().to_pyarrow().as_py() == 1
    assert out.count().to_pyarrow().as_py() == n
