"""Does an individual model beat personas? Offline evaluation on real retail transactions.

    OPENBLAS_NUM_THREADS=1 python benchmarks/recsys_eval.py
    python benchmarks/recsys_eval.py --transactions other.csv.gz --split 2011-09-01

Temporal split: train before ``--split``, test after. Precision@10, recall@10 and NDCG@10
over all items (buying again allowed) and over new items only (items the customer had not
bought before the split), for (a) popularity, (b) a persona baseline (k-means, 5–10 segments
picked by silhouette, on RFM and category shares; each segment's most-bought items),
(c) each customer's own most-bought items ("buy again"), (d) implicit ALS alone and
(e) Empatia's hybrid (rhythm-aware buy-again + co-occurrence + ALS + recent popularity).

Fairness: ALS's and the hybrid's settings are tuned on a validation split carved out of the
training period only (train before ``--split`` − ``--val-days``, validate on the last
``--val-days`` days before ``--split``); the test period is touched once, at the end.

The input is a UCI-Online-Retail-shaped CSV (``InvoiceNo, StockCode, Description, Quantity,
InvoiceDate, UnitPrice, CustomerID, Country``): cancellations (``C…`` invoices), rows
without a customer, non-positive quantities and non-product codes (stock codes not starting
with a digit: postage, fees, manual adjustments) are dropped. UCI has no categories: an
item's category is the last word of its description ("… T-LIGHT HOLDER" → HOLDER), the 24
most common such words kept and the rest pooled as "other".
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

from empatia.decide.evaluate import Split, evaluate, grid_search, metrics_at_k, tune_blend  # noqa: E402
from empatia.decide.recommenders import (  # noqa: E402
    ALS,
    BuyAgain,
    CategoryAffinity,
    CoOccurrence,
    Hybrid,
    Persona,
    Popularity,
    _rownorm,
    topk_rows,
)

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/retail/online_retail_2010-12_2011-12.csv.gz"


def load_retail(path: Path, n_categories: int = 24) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    df = df[df["CustomerID"].notna() & ~df["InvoiceNo"].str.startswith("C") & (df["Quantity"] > 0)]
    df = df[df["StockCode"].str.match(r"^\d")]
    words = (df["Description"].fillna("").str.upper().str.replace(r"[^A-Z ]+", " ", regex=True)
             .str.split().str[-1].fillna("OTHER"))
    desc = df.groupby("StockCode")["Description"].agg(lambda s: s.mode().iat[0] if len(s.mode()) else "")
    last = words.groupby(df["StockCode"]).agg(lambda s: s.mode().iat[0])
    top = set(last.value_counts().index[:n_categories])
    category = last.where(last.isin(top), "other")
    return pd.DataFrame({
        "person": df["CustomerID"].str.replace(r"\.0$", "", regex=True),
        "item": df["StockCode"],
        "ts": pd.to_datetime(df["InvoiceDate"]),
        "qty": df["Quantity"] * df["UnitPrice"],  # money, for the persona's M
        "category": df["StockCode"].map(category),
        "name": df["StockCode"].map(desc),
    })


def load_demo(world: Path) -> pd.DataFrame:
    """Order lines of a demo world folder (``empatia demo`` / ``build_world``), each line's
    person taken from the world's truth (perfect identity, so the comparison is about the
    recommenders, not stitching)."""
    import json

    truth = pd.read_parquet(next(world.glob("*truth_identifiers.parquet")))
    who = {(k, v): p for k, v, p in zip(truth["kind"], truth["value"], truth["person_id"], strict=True)}
    rows = []
    for f in sorted(world.glob("*.jsonl")):
        with f.open() as fh:
            for line in fh:
                if '"Order Completed"' not in line:
                    continue
                e = json.loads(line)
                pid = (who.get(("user_id", e.get("userId"))) or who.get(("anonymous_id", e.get("anonymousId")))
                       or who.get(("loyalty_id", e.get("properties", {}).get("loyaltyId"))))
                if pid is None:
                    continue
                for pr in e["properties"].get("products", []):
                    rows.append((pid, pr["product_id"], e["timestamp"],
                                 pr.get("price", 1) * pr.get("quantity", 1), pr.get("category")))
    df = pd.DataFrame(rows, columns=["person", "item", "ts", "qty", "category"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True).dt.tz_localize(None)
    df["name"] = df["item"]
    return df


def tune(val: Split, log: list[str]) -> dict[str, dict]:
    """Settings for ALS alone and for the hybrid, per setting, from the validation split."""
    out: dict[str, dict] = {}
    als_grid = {"factors": [32, 64, 128], "regularization": [0.01, 0.1], "bm25_b": [0.8]}
    for setting in ("all", "new"):
        p, s = grid_search(lambda **kw: ALS(**kw), als_grid, val, setting)
        out[f"als_{setting}"] = p
        log.append(f"ALS ({setting}): {p} → validation NDCG@10 {s:.3f}")
    ba_grid = {"tau": [None, 60.0, 120.0, 240.0], "rhythm": [0.0, 0.5, 1.0]}
    p, s = grid_search(lambda **kw: BuyAgain(**kw), ba_grid, val, "all")
    out["buy_again"] = p
    log.append(f"hybrid's buy-again part: {p} → validation NDCG@10 {s:.3f}")
    parts = {
        "buy_again": BuyAgain(**p).fit(val.train),
        "cooccurrence": CoOccurrence(tau=90.0).fit(val.train),
        "als_all": ALS(**out["als_all"]).fit(val.train),
        "als_new": ALS(**out["als_new"]).fit(val.train),
        "trending": Popularity(window_days=30.0).fit(val.train),
        "affinity": CategoryAffinity().fit(val.train),
    }
    for setting, users, truth, seen in (
        ("all", val.users_all, val.truth_all, None),
        ("new", val.users_new, val.truth_new, val.train.seen()),
    ):
        blocks = {
            "buy_again": _rownorm(parts["buy_again"].scores(users)),
            "cooccurrence": _rownorm(parts["cooccurrence"].scores(users)),
            "als": _rownorm(parts[f"als_{setting}"].scores(users)),
            "trending": _rownorm(parts["trending"].scores(users)),
            "affinity": _rownorm(parts["affinity"].scores(users)),
        }
        grid = {
            "buy_again": [1.0] if setting == "all" else [0.0],
            "cooccurrence": [0.0, 0.1, 0.25, 0.5, 1.0],
            "als": [0.0, 0.1, 0.25, 0.5, 1.0],
            "trending": [0.0, 0.05, 0.25],
            "affinity": [0.0, 0.1, 0.25, 0.5],
        }
        if setting == "new":
            grid["als"] = [1.0]
        w, s = tune_blend(blocks, truth, users, grid, seen=seen)
        out[f"weights_{setting}"] = w
        log.append(f"hybrid weights ({setting}): {w} → validation NDCG@10 {s:.3f}")
    return out


def hybrid(settings: dict, setting: str) -> Hybrid:
    return Hybrid(
        settings[f"weights_{setting}"],
        buy_again=BuyAgain(**settings["buy_again"]),
        cooccurrence=CoOccurrence(tau=90.0),
        als=ALS(**settings[f"als_{setting}"]),
        trending=Popularity(window_days=30.0),
        affinity=CategoryAffinity(),
    )


def run(path: Path, split: str | None, val_days: int, out: Path | None, demo: bool = False,
        sample_people: int | None = None) -> str:
    t0 = time.perf_counter()
    df = load_demo(path) if demo else load_retail(path)
    n_people = df["person"].nunique()
    if sample_people and n_people > sample_people:
        keep = pd.Series(df["person"].unique()).sample(sample_people, random_state=0)
        df = df[df["person"].isin(set(keep))]
    if split is None:  # the last val_days of the data are the test period
        split = str((pd.to_datetime(df["ts"]).max() - pd.Timedelta(days=val_days)).date())
    s = pd.Timestamp(split)
    test = Split.temporal(df, s)
    val = Split.temporal(df[pd.to_datetime(df["ts"]) < s], s - pd.Timedelta(days=val_days))
    log: list[str] = []
    settings = tune(val, log)

    rows: list[tuple[str, dict]] = []
    timings: dict[str, float] = {}

    def add(label: str, model_all, model_new=None) -> None:  # noqa: ANN001
        t = time.perf_counter()
        model_all.fit(test.train)
        r = evaluate(model_all, test)
        if model_new is not None:
            model_new.fit(test.train)
            r["new"] = evaluate(model_new, test)["new"]
        timings[label] = time.perf_counter() - t
        rows.append((label, r))

    add("(a) popularity", Popularity())
    persona = Persona()
    add("(b) persona (k-means on RFM + category shares)", persona)
    add("(c) buy again (own most-bought items)", BuyAgain())
    add("(d) implicit ALS", ALS(**settings["als_all"]), ALS(**settings["als_new"]))
    add("(e) Empatia hybrid", hybrid(settings, "all"), hybrid(settings, "new"))
    total = time.perf_counter() - t0

    ndcg = {label: (r["all"]["ndcg"], r["new"]["ndcg"]) for label, r in rows}
    e = ndcg["(e) Empatia hybrid"]
    a, b = ndcg["(a) popularity"], ndcg["(b) persona (k-means on RFM + category shares)"]
    c, d = ndcg["(c) buy again (own most-bought items)"], ndcg["(d) implicit ALS"]

    def ratio(x: float, y: float) -> str:
        return f"{x / y:.2f}×" if y > 0 else "n/a"

    lines = [
        f"### Next-best offer: individual vs persona — `{path.name}`"
        + (f" (demo world, {n_people:,} buyers)" if demo else ""),
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.node()} · {os.cpu_count()} cores "
        "(shared with other work) · "
        f"`python benchmarks/recsys_eval.py{'' if path == DEFAULT else (' --demo ' if demo else ' --transactions ') + str(path)} "
        f"--split {split}` · {total:.0f} s in all"
        + (" · demo world: order lines mapped to people by the world's truth (perfect identity); "
           "categories from the catalogue" if demo else ""),
        "",
        (f"{sample_people:,} of {n_people:,} people sampled at random (seed 0). "
         if sample_people and n_people > sample_people else "") +
        f"Train before {split}: {test.train.n_persons:,} customers × {test.train.n_items:,} items, "
        f"{len(test.train.u):,} purchase occasions (customer, item, day). Test after: "
        f"{len(test.users_all):,} customers with a purchase of a known item, "
        f"{len(test.users_new):,} of them with some item new to them. Persona: k = {persona.k_} "
        "segments (silhouette over 5–10).",
        "",
        "| model | P@10 all | R@10 all | NDCG@10 all | P@10 new | R@10 new | NDCG@10 new | fit+score s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {r['all']['precision']:.3f} | {r['all']['recall']:.3f} | "
            f"**{r['all']['ndcg']:.3f}** | {r['new']['precision']:.3f} | {r['new']['recall']:.3f} | "
            f"**{r['new']['ndcg']:.3f}** | {timings[label]:.1f} |"
        )
    goals = [
        ("(e) ≥ 1.3× persona", e[0] >= 1.3 * b[0], e[1] >= 1.3 * b[1], ratio(e[0], b[0]), ratio(e[1], b[1])),
        ("(e) ≥ 2× popularity", e[0] >= 2 * a[0], e[1] >= 2 * a[1], ratio(e[0], a[0]), ratio(e[1], a[1])),
        ("(e) > best of (c), (d)", e[0] > max(c[0], d[0]), e[1] > max(c[1], d[1]),
         ratio(e[0], max(c[0], d[0])), ratio(e[1], max(c[1], d[1]))),
    ]
    lines += ["", "| goal (NDCG@10) | all items | new items |", "|---|---|---|"]
    for name, ok_all, ok_new, r_all, r_new in goals:
        lines.append(f"| {name} | {'met' if ok_all else 'MISSED'} ({r_all}) | "
                     f"{'met' if ok_new else 'MISSED'} ({r_new}) |")
    lines += ["", f"Tuned on the validation split (train before {split} − {val_days} days, "
              f"validate on the last {val_days} days of the training period):", ""]
    lines += [f"- {x}" for x in log]
    text = "\n".join(lines) + "\n"
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        old = out.read_text() if out.exists() else ""
        marker = f"### Next-best offer: individual vs persona — `{path.name}`"
        if marker in old:
            head, _, rest = old.partition(marker)
            nxt = rest.find("\n### ")
            old = head + (rest[nxt + 1 :] if nxt >= 0 else "")
        out.write_text(old.rstrip() + ("\n\n" if old.strip() else "") + text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--transactions", type=Path, default=DEFAULT,
                    help="a UCI-Online-Retail-shaped CSV (default: the shared retail data)")
    ap.add_argument("--demo", type=Path, help="a demo world folder (events JSONL + truth) instead")
    ap.add_argument("--split", default=None,
                    help="train before, test from (default 2011-09-01 for retail; the last "
                         "--val-days days for --demo)")
    ap.add_argument("--val-days", type=int, default=92)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "decide.md")
    ap.add_argument("--sample-people", type=int, default=None,
                    help="evaluate on this many people drawn at random (large worlds)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    split = a.split or (None if a.demo else "2011-09-01")
    print(run(a.demo or a.transactions, split, a.val_days, None if a.no_write else a.out,
              demo=a.demo is not None, sample_people=a.sample_people))


if __name__ == "__main__":
    _ = (metrics_at_k, topk_rows, np)
    main()
