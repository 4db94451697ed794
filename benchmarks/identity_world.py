"""Identity + profiles on the demo world, measured against its ground truth.

Builds the demo world (``empatia.demo``), imports it, runs the ``identity`` and ``profiles``
stages and reports: stage times; pairwise precision / recall / F1 of stitching over the
true identifiers (shared ones — family tablets, the call-centre placeholder — left out, as
they belong to no single person); and next-purchase mean absolute error in days for people
with a true next purchase, against the naive "last purchase + average gap of everyone"
baseline.

    .venv/bin/python benchmarks/identity_world.py --customers 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from empatia.demo.world import build_world
from empatia.identity.normalize import normalize_email, normalize_phone
from empatia.ingest.importer import import_files
from empatia.pipeline import RunContext, run_pipeline
from empatia.workspace import Workspace


IDENTITY: dict[str, object] = {}


def pairs(counts: pd.Series) -> int:
    c = counts.to_numpy(dtype=np.int64)
    return int((c * (c - 1) // 2).sum())


def stitching_quality(ws: Workspace, truth: pd.DataFrame) -> dict[str, float]:
    t = truth[~truth.shared].copy()
    t.loc[t.kind == "email", "value"] = t.loc[t.kind == "email", "value"].map(normalize_email)
    t.loc[t.kind == "phone", "value"] = [
        normalize_phone(v, None) or v for v in t.loc[t.kind == "phone", "value"]
    ]
    t = t.drop_duplicates(["kind", "value", "person_id"])
    t = t[~t.duplicated(["kind", "value"], keep=False)]  # values that belong to two people
    ours = ws.store.con.execute("select kind, value, person_id as ours from identities").df()
    m = t.merge(ours, on=["kind", "value"])
    tp = pairs(m.groupby(["person_id", "ours"]).size())
    pred = pairs(m.groupby("ours").size())
    true = pairs(m.groupby("person_id").size())
    p, r = tp / pred if pred else 0.0, tp / true if true else 0.0
    return {"identifiers_matched": len(m), "identifiers_truth": len(t), "precision": p,
            "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}  # fmt: skip


def next_purchase_error(
    ws: Workspace, people: pd.DataFrame, truth_ids: pd.DataFrame
) -> dict[str, object]:
    uid = truth_ids[(truth_ids.kind == "user_id") & ~truth_ids.shared][["value", "person_id"]]
    prof = ws.store.con.execute(
        "select i.value, p.next_purchase_forecast, p.last_order_at, p.as_of from profiles p"
        " join identities i using (person_id) where i.kind = 'user_id' and p.orders >= 2"
    ).df()
    truth = people[["person_id", "next_purchase_at", "persona"]]
    m = prof.merge(uid, on="value").merge(truth, on="person_id")
    m = m.dropna(subset=["next_purchase_forecast", "next_purchase_at"]).drop_duplicates("person_id")
    if m.empty:
        return {"people": 0}
    gap = ws.store.con.execute(
        "select avg(cadence_days) from profiles where cadence_days is not null"
    ).fetchone()[0]
    naive = m.last_order_at + pd.to_timedelta(gap, unit="D")
    naive = naive.where(naive > m.as_of, m.as_of)  # the same floor at "now" as ours

    def mae(pred: pd.Series, rows: pd.Series) -> float:
        err = (pred[rows] - m.next_purchase_at[rows]).dt.total_seconds().abs() / 86400
        return round(float(err.mean()), 1)

    out: dict[str, object] = {"people": len(m)}
    for name, rows in [("all", m.persona.notna())] + [
        (p, m.persona == p) for p in sorted(m.persona.unique())
    ]:
        out[name] = {"n": int(rows.sum()), "mae_days": mae(m.next_purchase_forecast, rows),
                     "naive_mae_days": mae(naive, rows)}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--no-probabilistic", action="store_true", help="Deterministic only.")
    args = parser.parse_args()
    if args.no_probabilistic:
        IDENTITY["probabilistic"] = False
    root = args.dir or Path(tempfile.mkdtemp(prefix="empatia-bench-"))
    t0 = time.perf_counter()
    files = build_world(root / "world", customers=args.customers, seed=args.seed)
    print(f"world: {args.customers:,} customers, {files.events_total:,} events "
          f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    ws = Workspace(db=root / "bench.duckdb")
    t0 = time.perf_counter()
    import_files(ws.store, files.events)
    print(f"import: {time.perf_counter() - t0:.1f} s")
    c0 = time.process_time()
    results = run_pipeline(RunContext(ws, settings={"identity": {"default_region": "PL", **IDENTITY}}),
                           only=["identity", "profiles"])  # fmt: skip
    for r in results:
        print(f"stage {r.name}: {r.seconds:.1f} s  {r.figures}")
    cpu = time.process_time() - c0
    print(
        f"identity + profiles: {sum(r.seconds for r in results):.1f} s wall, {cpu:.1f} CPU-seconds"
        f" (all threads; / 2 cores = {cpu / 2:.1f} s if idle)"
    )
    truth_ids = pd.read_parquet(files.truth["identifiers"])
    print("stitching vs truth:", stitching_quality(ws, truth_ids))
    people = pd.read_parquet(files.truth["people"])
    print("next purchase:", next_purchase_error(ws, people, truth_ids))
    ws.close()


if __name__ == "__main__":
    main()
