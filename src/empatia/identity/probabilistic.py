"""Probabilistic matching of CRM / loyalty records that share no identifier (Splink).

Records are ``identify`` calls with a CRM or loyalty id and personal data (name, birth
date, address, email, phone — see docs/tracking-plan.md). Splink (Fellegi–Sunter, trained
unsupervised with EM) scores candidate pairs; pairs at or above ``match_threshold`` become
edges for stitching (``identity_matches``), pairs between ``review_threshold`` and
``match_threshold`` go to ``identity_review`` for a person to decide.

The records of one workspace are few (one per CRM/loyalty id), so they are scored by
Splink's DuckDB linker in memory on both engines; only the pairs go back to the engine.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from empatia.identity.config import IdentityConfig
from empatia.store.engine import Engine

log = logging.getLogger(__name__)

#: How each record column is compared: name (Jaro-Winkler), text, code, date, id.
RECORD_FIELDS: dict[str, str] = {
    "first_name": "name",
    "last_name": "name",
    "birth_date": "date",
    "city": "text",
    "street": "text",
    "postal_code": "code",
    "email": "id",
    "phone": "id",
}
MIN_RECORDS = 20  # fewer records than this cannot train a model


def _comparison(col: str, how: str) -> Any:
    import splink.comparison_library as cl

    if how == "name":
        return cl.JaroWinklerAtThresholds(col, [0.92, 0.8])
    if how == "text":
        return cl.JaroWinklerAtThresholds(col, [0.9, 0.7])
    if how in ("code", "date", "id"):
        return cl.LevenshteinAtThresholds(col, [1, 2])
    raise ValueError(f"unknown comparison {how!r} for {col}; use name, text, code, date or id")


def _quiet_splink() -> None:
    """Splink reports training progress at INFO on its own loggers; keep the CLI quiet."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("splink"):
            logging.getLogger(name).setLevel(logging.WARNING)


def match_pairs(
    frames: pd.DataFrame | list[pd.DataFrame],
    fields: Mapping[str, str],
    *,
    threshold: float = 0.5,
    blocking: list[tuple[str, ...]] | None = None,
    seed: int = 42,
) -> pd.DataFrame:
    """Score record pairs with Splink: ``(unique_id_l, unique_id_r, match_probability)``.

    One frame deduplicates it; two frames link them (each needs a ``unique_id`` column).
    """
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frames = frames if isinstance(frames, list) else [frames]
    cols = [c for c in fields if all(c in f.columns for f in frames)]
    blocking = blocking or [(c,) for c in cols if fields[c] in ("name", "date", "code", "id")]
    rules = [block_on(*b) for b in blocking]
    settings = SettingsCreator(
        link_type="link_only" if len(frames) > 1 else "dedupe_only",
        comparisons=[_comparison(c, fields[c]) for c in cols],
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    inputs = [db_api.register(f[["unique_id", *cols]]) for f in frames]
    _quiet_splink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linker = Linker(inputs if len(inputs) > 1 else inputs[0], settings)
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*b) for b in blocking[:2]], recall=0.8
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=2e5, seed=seed)
        names = [c for c in cols if fields[c] == "name"]
        em_rules = [block_on(c) for c in cols if fields[c] in ("date", "code")][:2] or [
            block_on(names[0])
        ]
        for rule in em_rules:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        pred = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    return pred[["unique_id_l", "unique_id_r", "match_probability"]]


_SCHEMA = pa.schema(
    [("kind_l", pa.string()), ("value_l", pa.string()), ("kind_r", pa.string()),
     ("value_r", pa.string()), ("match_probability", pa.float64())]
)  # fmt: skip


def match_records(eng: Engine, config: IdentityConfig) -> dict[str, int]:
    """Score ``identity_records``; write ``identity_matches`` and ``identity_review``.

    Review decisions stand: accepted pairs are matches whatever the model says, rejected
    pairs are never linked nor proposed again.
    """
    cur = eng.store.con.cursor()
    recs = cur.execute(
        "select kind || ':' || value as unique_id, "
        + ", ".join(f"any_value({c}) as {c}" for c in RECORD_FIELDS)
        + " from (select * from identity_records order by seq desc) group by all"
    ).df()
    decided = {
        (kl, vl, kr, vr): (status, prob)
        for kl, vl, kr, vr, status, prob in cur.execute(
            "select kind_l, value_l, kind_r, value_r, status, match_probability"
            " from identity_review where status <> 'open'"
        ).fetchall()
    }
    cur.close()
    rows: list[tuple[str, str, str, str, float]] = []
    if len(recs) >= MIN_RECORDS:
        recs = recs.sort_values("unique_id").reset_index(drop=True)
        pairs = match_pairs(recs, RECORD_FIELDS, threshold=config.review_threshold)
        for a, b, p in pairs.itertuples(index=False):
            (ka, va), (kb, vb) = a.split(":", 1), b.split(":", 1)
            if (ka, va) > (kb, vb):
                ka, va, kb, vb = kb, vb, ka, va
            if (ka, va, kb, vb) not in decided:
                rows.append((ka, va, kb, vb, float(p)))
    rows.sort()
    accepted = [r for r in rows if r[4] >= config.match_threshold]
    accepted += [(*k, float(p or 1.0)) for k, (st, p) in sorted(decided.items()) if st == "accepted"]
    review = [r for r in rows if r[4] < config.match_threshold]

    def table(rs: list[tuple[str, str, str, str, float]]) -> pa.Table:
        return pa.Table.from_pylist(
            [dict(zip(_SCHEMA.names, r, strict=True)) for r in rs], schema=_SCHEMA
        )

    eng.write_arrow(table(accepted), "identity_matches")
    eng.write_arrow(table(review), "identity_review", where="status = 'open'")
    return {"matched_pairs": len(accepted), "review_pairs": len(review)}


def decide_review(
    eng_or_store: Any, kind_l: str, value_l: str, kind_r: str, value_r: str, accept: bool
) -> int:
    """Record a person's decision on a review pair; applied by the next identity run."""
    store = getattr(eng_or_store, "store", eng_or_store)
    (kl, vl), (kr, vr) = sorted([(kind_l, value_l), (kind_r, value_r)])
    cur = store.con.cursor()
    row = cur.execute(
        "update identity_review set status = ? where kind_l = ? and value_l = ?"
        " and kind_r = ? and value_r = ? returning 1",
        ["accepted" if accept else "rejected", kl, vl, kr, vr],
    ).fetchall()
    cur.close()
    return len(row)
