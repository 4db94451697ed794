"""How many candidate pairs identity's blocking makes, per rule, from a lake a run has filled
(issue #17): each rule's blocks whole and what the product compares of them (a rule of two or
more fields: its blocks of at most ``MAX_BLOCK``; a single field: all, while within its budget
of ``SINGLE_MAX_PAIRS`` a record), and each EM session's pairs whole and in chunks of
``EM_BLOCK``.

    python benchmarks/identity_pairs.py LAKE

Counted as ``sum n·(n−1)/2`` over the blocks of the records identity keeps (the latest value of
each field per record, prepared as the product prepares them), read with DuckDB from the lake's
``identity_records``.
"""

from __future__ import annotations

import argparse

import duckdb
import pyarrow as pa
from deltalake import DeltaTable

from empatia.identity.probabilistic import (EM_BLOCK, MAX_BLOCK, RECORD_BLOCKING, RECORD_FIELDS,
                                            SINGLE_BLOCKING, SINGLE_MAX_PAIRS, em_columns,
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
    con.register("r", recs)
    print(f"records: {recs.num_rows:,}")
    print("| rule | pairs | largest block | compared |\n|---|---:|---:|---:|")
    budget = 50_000 + SINGLE_MAX_PAIRS * recs.num_rows
    for rule in [r for r in RECORD_BLOCKING if isinstance(r, tuple)] + [(c,) for c in SINGLE_BLOCKING]:
        cols = ", ".join(rule)
        have = " and ".join(f"{c} is not null" for c in rule)
        row = con.execute(f"select sum(n * (n - 1) / 2)::bigint, max(n), sum(n * (n - 1) / 2) filter"
                          f" (where n <= {MAX_BLOCK})::bigint from (select count(*) as n from r"
                          f" where {have} group by {cols})").fetchone()  # fmt: skip
        pairs = row[0] or 0
        compared = (row[2] or 0) if len(rule) > 1 else pairs if pairs <= budget else 0
        print(f"| {cols} | {pairs:,} | {row[1] or 0:,} | {compared:,} |")
    fields = {c: how for c, how in RECORD_FIELDS.items() if c in recs.column_names}
    print("| EM session | pairs | pairs in chunks of ≤ EM_BLOCK |\n|---|---:|---:|")
    for c in em_columns(fields):
        whole = con.execute(f"select sum(n * (n - 1) / 2)::bigint from (select count(*) as n from r"
                            f" where {c} is not null group by {c})").fetchone()  # fmt: skip
        chunked = con.execute(
            f"select sum(n * (n - 1) / 2)::bigint from (select count(*) as n from (select {c},"
            f" (row_number() over (partition by {c} order by md5(unique_id || '#em'), unique_id)"
            f" - 1) // {EM_BLOCK} as chunk from r where {c} is not null) group by {c}, chunk)"
        ).fetchone()
        print(f"| {c} | {whole[0] or 0:,} | {chunked[0] or 0:,} |")


if __name__ == "__main__":
    main()
