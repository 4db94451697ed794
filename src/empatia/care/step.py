"""Scoring as the engine's Python model step: one row per person in, one scored row out.

The people with a risk signal in the window come packed one row each (:func:`~empatia.care.
inputs.people_expr`: their texts and journeys as lists, their reviews, traits and value as
columns), so any batch of rows holds everything about its people: :func:`score_batch`
unpacks a batch into the frames :func:`~empatia.care.scoring.score_people` reads, scores and
explains them. It runs where the engine runs (:meth:`~empatia.store.engine.Engine.
map_batches`: in process on DuckDB, in Spark's Python workers); ranking them against each
other is the engine's again.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from empatia.care.config import CareWeights
from empatia.care.explain import evidence, explain
from empatia.care.inputs import INFLUENCE_TRAITS, JOURNEY_FIELDS, TEXT_FIELDS, Inputs, utc
from empatia.care.scoring import INFLUENCE_SIGNALS, RISK_SIGNALS, score_people

#: A scored, explained person (what :func:`score_batch` returns).
SCORED = pa.schema([
    ("person_id", pa.string()), ("influence", pa.float64()), ("risk", pa.float64()),
    ("value", pa.float64()), ("score", pa.float64()), ("explanation", pa.string()),
    ("evidence", pa.string()), ("last_seq", pa.int64()), ("threat_seqs", pa.list_(pa.int64())),
])  # fmt: skip
_REVIEWS = ("public_reviews", "bad_public_reviews", "last_bad_review_at", "worst_recent_rating")
_VALUES = ("clv_12m", "revenue")


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT:
        return None
    if hasattr(v, "item") and not isinstance(v, list | dict | str):
        return v.item()
    return v


def _networks(v: Any) -> dict[str, int]:
    if not isinstance(v, str) or not v.startswith("{"):
        return {}
    try:
        d = json.loads(v)
    except ValueError:
        return {}
    return dict(sorted(((k, int(n)) for k, n in d.items() if isinstance(n, int | float)),
                       key=lambda kv: -kv[1]))  # fmt: skip


def entries(scored: pd.DataFrame, w: CareWeights) -> list[dict[str, Any]]:
    """Rows of the scored frame as list entries with explanation and evidence."""
    out = []
    for rec in scored.to_dict("records"):
        r = {k: _clean(v) for k, v in rec.items()}
        r["networks"] = _networks(r.get("followers_by_network"))
        for flag in ("press", "vip"):
            r[flag] = bool(r.get(flag)) if r.get(flag) is not None else False
        factors = {f"influence.{n}": r.get(f"i_{n}") or 0.0 for n in INFLUENCE_SIGNALS}
        factors |= {f"risk.{n}": r.get(f"r_{n}") or 0.0 for n in RISK_SIGNALS}
        ev = evidence(r, factors)
        seq = r.get("evidence_seq")
        out.append({
            "person_id": r["person_id"], "influence": float(r["influence"]),
            "risk": float(r["risk"]), "value": float(r["value"]), "score": float(r["score"]),
            "explanation": explain(r), "evidence": ev,
            "last_seq": int(seq) if seq is not None else None,
            "threat_seqs": r.get("threat_seqs") or [],
        })  # fmt: skip
    return out


def _unpack(t: pa.Table, column: str, fields: tuple[str, ...], order: list[str]) -> pd.DataFrame:
    """A list-of-structs column as a long frame with each element's ``person_id``."""
    lists = t.column(column).combine_chunks()
    parents = pc.list_parent_indices(lists)
    flat = pc.list_flatten(lists)
    cols = {"person_id": t.column("person_id").take(parents)}
    cols |= {f: flat.field(f) for f in fields}
    return utc(pa.table(cols)).to_pandas().sort_values(order, kind="stable").reset_index(drop=True)


def score_batch(batch: pa.RecordBatch, now: datetime, w: CareWeights) -> pa.Table:
    """Score the people of ``batch`` (rows of :func:`~empatia.care.inputs.people_expr`) as of
    ``now``: one row of :data:`SCORED` each, explained (explanation, evidence, seqs) where the
    score reaches the list's minimum (``alerts.min_score``; nobody below it is listed)."""
    t = utc(pa.Table.from_batches([batch]))
    inp = Inputs(
        now,
        _unpack(t, "texts", TEXT_FIELDS, ["seq"]),
        _unpack(t, "journeys", JOURNEY_FIELDS, ["person_id", "case_id"]),
        t.select(["person_id", *_REVIEWS]).to_pandas(),
        t.select(["person_id", *INFLUENCE_TRAITS]).to_pandas(),
        t.select(["person_id", *_VALUES]).to_pandas(),
    )
    scored = score_people(inp, w)
    # only who may be listed is explained: below the list's minimum, the scores alone
    listable = scored["score"] >= w.alerts.min_score
    rows = entries(scored[listable], w)
    for r in rows:
        r["evidence"] = json.dumps(r["evidence"], default=str)
    rest = scored.loc[~listable, ["person_id", "influence", "risk", "value", "score"]]
    rows += rest.to_dict("records")  # no explanation, evidence or seqs: read as nulls
    return pa.Table.from_pylist(rows, schema=SCORED)
