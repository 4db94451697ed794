"""How many candidate pairs identity's blocking makes, per rule, from a lake a run has filled
(issue #17): each rule's blocks whole and what the product compares of them (a rule of two or
more fields: its blocks of at most ``MAX_BLOCK``; a single field: all, while within its budget
of ``SINGLE_MAX_PAIRS`` a record), and each EM session's pairs whole and in chunks of
``EM_BLOCK``.

    python benchmarks/identity_pairs.py LAKE

Counted as ``sum n·(n−1)/2`` over the blocks of the records identity keeps (the latest value of
each field per record, prepared as the product prepares them, read with DuckDB from the lake's
``identity_records``), keyed by the product's own ``capped_blocks`` and ``em_blocks``.
"""

from __future__ import annotations

import argparse

import duckdb
import ibis
import pyarrow as pa
from deltalake import DeltaTable

from empatia.identity.probabilistic import (RECORD_BLOCKING, RECORD_FIELDS, SINGLE_BLOCKING,
                                            SINGLE_MAX_PAIRS, capped_blocks, em_blocks, em_columns,
                                            prepare_records)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("lake", help="the lake folder (EMPATIA_STORE__URI)")
    p.add_argument("--region", default="PL", help="default phone region, as the workspace's")
    a = p.parse_args()
    con = duckdb.connect(config={"memory_limit": "4GB"})
    con.register("t", DeltaTable(f"{a.lake}/identity_records").to_pyarrow_dataset())
    latest = ", ".join(f"arg_max({c}, seq) filter (where {c} is not null) as {c}" for c in RECORD_FIELDS)
    recs = con.execute(f"select kind || ':' || value as unique_id, {latest} from t group by all"
                       ).to_arrow_table()  # fmt: skip
    recs = pa.concat_tables([prepare_records(a.region, b) for b in recs.to_batches(200_000)])
    print(f"records: {recs.num_rows:,}")
    # the product's own keys (capped_blocks, em_blocks) on the records, counted by Ibis (DuckDB)
    r = ibis.memtable(recs)
    rules = [rule for rule in RECORD_BLOCKING if isinstance(rule, tuple)]
    fields = {c: how for c, how in RECORD_FIELDS.items() if c in recs.column_names}
    keyed, capped = capped_blocks(r, rules)
    keyed = em_blocks(keyed, em_columns(fields))

    def pairs(cols: list[str]) -> tuple[int, int]:
        """Pairs among the records sharing ``cols`` (all set), and the largest such block."""
        t = keyed.filter(*[keyed[c].notnull() for c in cols])
        g = t.group_by(cols).aggregate(n=t.count())
        row = g.aggregate(p=(g.n * (g.n - 1) / 2).sum(), m=g.n.max()).to_pyarrow().to_pylist()[0]
        return int(row["p"] or 0), int(row["m"] or 0)

    print("| rule | pairs | largest block | compared |\n|---|---:|---:|---:|")
    budget = 50_000 + SINGLE_MAX_PAIRS * recs.num_rows
    for rule, key in zip(rules, capped, strict=True):
        whole, largest = pairs(list(rule))
        print(f"| {', '.join(rule)} | {whole:,} | {largest:,} | {pairs(list(key))[0]:,} |")
    for c in SINGLE_BLOCKING:
        whole, largest = pairs([c])
        print(f"| {c} | {whole:,} | {largest:,} | {whole if whole <= budget else 0:,} |")
    print("| EM session | pairs | pairs in chunks of ≤ EM_BLOCK |\n|---|---:|---:|")
    for c in em_columns(fields):
        print(f"| {c} | {pairs([c])[0]:,} | {pairs([f'em_{c}'])[0]:,} |")

if __name__ == "__main__":
    main()
