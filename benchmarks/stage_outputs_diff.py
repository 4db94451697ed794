"""Did a change keep every stage's outputs? Compare two stores table by table.

Build the same world twice — once with the code before, once after (for example
``empatia demo --customers 5000 --seed 7 --no-serve --db A`` from a worktree of the old
commit, then the same with ``--db B``) — and run::

    python benchmarks/stage_outputs_diff.py A B

For every table both stores have, prints the rows of each, how many rows of one are not in
the other, and which columns differ. Rows are compared whole, floats rounded to 6 decimals;
columns that name a run or a moment (ids drawn at random, ``*_at`` stamps of the run itself)
can be left out with ``--ignore``.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

SKIP = ("pipeline_state", "stage_marks")


def _rows(con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]]) -> set[tuple[object, ...]]:
    cols = ", ".join(
        f'round("{c}", 6)' if t in ("DOUBLE", "FLOAT") else f'"{c}"::varchar' for c, t in columns
    )
    return set(con.execute(f'select {cols} from "{table}"').fetchall())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--ignore", nargs="*", default=[], help="columns left out (any table)")
    args = ap.parse_args(argv)
    con = duckdb.connect()
    con.execute(f"attach '{args.before}' as a (read_only)")
    con.execute(f"attach '{args.after}' as b (read_only)")
    tables = con.execute(
        "select table_name from duckdb_tables() where database_name = 'a' and not temporary"
        " intersect select table_name from duckdb_tables() where database_name = 'b'"
        " order by 1"
    ).fetchall()
    changed = 0
    for (table,) in tables:
        if table in SKIP:
            continue
        cols = con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = 'a'"
            " and table_name = ? order by column_index",
            [table],
        ).fetchall()
        cols = [(c, t) for c, t in cols if c not in args.ignore]
        con.execute("use a")
        before = _rows(con, table, cols)
        con.execute("use b")
        after = _rows(con, table, cols)
        only_a, only_b = before - after, after - before
        if not only_a and not only_b:
            print(f"{table:32} {len(before):>9,} rows  same")
            continue
        changed += 1
        diff = [c for i, (c, _) in enumerate(cols)
                if {r[i] for r in only_a} != {r[i] for r in only_b}]  # fmt: skip
        print(f"{table:32} {len(before):>9,} → {len(after):>9,} rows  {len(only_a):,} gone,"
              f" {len(only_b):,} new; columns: {', '.join(diff[:8])}")  # fmt: skip
    print(f"{changed} of {len(tables)} tables differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
