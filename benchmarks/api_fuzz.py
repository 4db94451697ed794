"""Nightly API fuzzing (#13): every operation of the OpenAPI schema, many examples each.

The same fuzzing as ``tests/api/test_fuzz.py`` (schemathesis, in process), at a count too
slow for ``make test``: ``--examples`` (200 by default) generated cases per operation, each
sent with an admin key, with the public write key and with no key. Any 5xx is a failure;
the report lists every one with a reproducer (method, path, query, body, caller).

    .venv/bin/python benchmarks/api_fuzz.py                     # a fresh store
    .venv/bin/python benchmarks/api_fuzz.py --db /tmp/copy.duckdb --record

The store is changed (keys, fuzzed writes): point ``--db`` at a copy. Exit code 1 on any 5xx.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from empatia.api.app import create_app
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace

RESULTS = Path(__file__).parent / "results" / "api_fuzz.md"


def fuzz(db: Path, examples: int) -> dict[str, Any]:
    ws = Workspace(db=db)
    callers = {"admin": create_key(ws.store, "admin", "fuzz")[1],
               "write": create_key(ws.store, "write", "fuzz")[1], "none": None}  # fmt: skip
    app = create_app(ws)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    statuses: Counter[int] = Counter()
    errors: list[dict[str, Any]] = []
    operations = 0
    cases = 0
    t0 = time.perf_counter()
    with TestClient(app):
        for result in schema.get_all_operations():
            op = result.ok()
            operations += 1

            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(op.as_strategy())
            def run(case: schemathesis.Case) -> None:
                nonlocal cases
                cases += 1
                for who, secret in callers.items():
                    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
                    try:
                        status = case.call(headers=headers).status_code
                    except Exception as e:  # noqa: BLE001 - an unhandled error is a 500
                        status, detail = 500, f"{type(e).__name__}: {e}"
                    else:
                        detail = ""
                    statuses[status] += 1
                    if status >= 500:
                        errors.append({"operation": f"{op.method.upper()} {op.path}",
                                       "caller": who, "status": status, "detail": detail[:300],
                                       "path_parameters": case.path_parameters,
                                       "query": case.query, "body": repr(case.body)[:300]})  # fmt: skip

            run()
            print(f"{op.method.upper():6} {op.path}: {cases} cases so far", flush=True)
    seconds = time.perf_counter() - t0
    ws.close()
    return {"operations": operations, "cases": cases, "requests": sum(statuses.values()),
            "seconds": round(seconds, 1), "statuses": dict(sorted(statuses.items())),
            "errors": errors}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="a copy of a built store (default: a fresh one)")
    ap.add_argument("--examples", type=int, default=200, help="cases per operation")
    ap.add_argument("--record", action="store_true", help=f"append the result to {RESULTS}")
    a = ap.parse_args()
    db = a.db or Path(tempfile.mkdtemp(prefix="empatia-fuzz-")) / "fuzz.duckdb"
    r = fuzz(db, a.examples)
    five = r["errors"]
    print(f"{r['operations']} operations, {r['cases']:,} cases ({a.examples} per operation), "
          f"{r['requests']:,} requests in {r['seconds']} s; statuses {r['statuses']}; "
          f"5xx: {len(five)}")  # fmt: skip
    for e in five[:50]:
        print("  5xx:", e)
    if a.record:
        line = (f"| {datetime.now(UTC):%Y-%m-%d} | {platform.node()} | {r['operations']} | "
                f"{a.examples} | {r['cases']:,} | {r['requests']:,} | {r['seconds']} | "
                f"{len(five)} |\n")  # fmt: skip
        if not RESULTS.exists():
            RESULTS.write_text("# API fuzzing (benchmarks/api_fuzz.py)\n\n| date | machine | "
                               "operations | examples/op | cases | requests | seconds | 5xx |\n"
                               "|---|---|---|---|---|---|---|---|\n")  # fmt: skip
        with RESULTS.open("a") as f:
            f.write(line)
    return 1 if five else 0


if __name__ == "__main__":
    raise SystemExit(main())
