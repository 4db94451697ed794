"""Customer lifetime value: MBG/NBD (will they buy again, how often) + Gamma-Gamma (how much).

The modified BG/NBD (Batislam et al. 2007) lets a customer drop out after their first
purchase too. Plain BG/NBD cannot: it calls every one-time buyer 100% "still active" however
long ago they bought, which on the demo world made "still active" no better than a coin
against the truth's churn (AUC 0.50; 0.72 with MBG/NBD, `benchmarks/demo_truth.py`).

Fitted with `lifetimes` on one row per buyer — ``frequency`` (repeat purchase days),
``recency`` (days from first to last purchase day), ``T`` (days from first purchase to
``as_of``) and ``monetary_value`` (average order value in the reporting currency; NaN when
it could not be converted: no CLV then, but still ``p_alive``). Fitting needs every buyer of
the sample at once, so it is the engine's fit (:func:`fit_on`: in process on DuckDB, in one
executor's Python worker on Spark); the rows are sorted by person there, so the fit is the
same on every engine. Predicting with the fitted parameters is a model step the
engine maps to where the rows are (:func:`score_batch`: in process on DuckDB, on Spark's
executors).
"""

from __future__ import annotations

import logging
import warnings
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from empatia.profiles.config import ProfileConfig

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from empatia.store.engine import Engine

log = logging.getLogger(__name__)

#: The purchase model behind ``p_alive`` (a kept model of another kind is fitted again).
MODEL_KIND = "mbg_nbd"


#: The rows of :func:`score_batch`: one per buyer.
SCHEMA = pa.schema([("person_id", pa.string()), ("p_alive", pa.float64()),
                    ("expected_purchases_90d", pa.float64()), ("clv_12m", pa.float64())])  # fmt: skip


def fit_model(summary: pd.DataFrame, config: ProfileConfig, buyers: int | None = None
              ) -> dict[str, Any] | None:  # fmt: skip
    """The CLV model's parameters, fitted on one row per buyer (``None``: too few buyers, or
    no penalizer made both models converge); ``buyers``: how many there are in all, when
    ``summary`` is a sample of them (:func:`fit_sample`).

    Fitting needs every buyer at once (four numbers each, sorted by person): :func:`fit_on`
    runs it where the engine runs; predicting with the parameters is :func:`score_batch`,
    the engine's model step.
    """
    if len(summary) < config.clv_min_customers or (summary["frequency"] > 0).sum() < 2:
        return None
    from lifetimes import GammaGammaFitter, ModifiedBetaGeoFitter

    f, r, t, m = _columns(summary)
    repeat = (f > 0) & (m > 0)
    for penalizer in (config.clv_penalizer, config.clv_penalizer * 10, config.clv_penalizer * 100):
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                bgf = ModifiedBetaGeoFitter(penalizer_coef=penalizer).fit(f, r, t)
                gg = None
                if repeat.sum() >= 2:
                    gg = GammaGammaFitter(penalizer_coef=penalizer).fit(f[repeat], m[repeat])
        except Exception as e:  # noqa: BLE001 - a model that cannot be fitted leaves CLV empty
            log.info("CLV fit with penalizer %s failed: %s", penalizer, e)
            continue
        return {"kind": MODEL_KIND, "penalizer": penalizer,
                "bgf": {k: float(v) for k, v in bgf.params_.items()},
                "gg": {k: float(v) for k, v in gg.params_.items()} if gg is not None else None,
                "buyers": buyers or len(summary), "fitted_on": len(summary)}  # fmt: skip
    log.warning("CLV model could not be fitted; CLV left empty")
    return None


def fit_on(eng: Engine, sample: ir.Table, config: ProfileConfig, buyers: int | None = None
           ) -> dict[str, Any] | None:  # fmt: skip
    """:func:`fit_model` on the rows of ``sample`` (:func:`fit_sample`) where the engine
    runs them (:meth:`~empatia.store.engine.Engine.fit`): only the parameters come back."""
    return eng.fit(sample, partial(_fit_rows, config, buyers))[1]["model"]


def _fit_rows(config: ProfileConfig, buyers: int | None, rows: pa.Table
              ) -> tuple[None, dict[str, Any]]:  # fmt: skip
    summary = rows.to_pandas().sort_values("person_id", kind="stable", ignore_index=True)
    return None, {"model": fit_model(summary, config, buyers)}


def fit_sample(summary: ir.Table, buyers: int) -> ir.Table:
    """The buyers the model is fitted on: at most ``buyers`` of ``summary``, those with the
    lowest SHA-256 of their person id (the same on every engine and every run while they are
    there)."""
    key = summary.person_id.hexdigest("sha256")
    return summary.order_by([key, "person_id"]).limit(buyers)


def _columns(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    f = summary["frequency"].to_numpy(float)
    r = summary["recency"].to_numpy(float)
    t = np.maximum(summary["T"].to_numpy(float), r)
    return f, r, t, summary["monetary_value"].to_numpy(float)


def score_batch(model: dict[str, Any] | None, months: int, discount: float,
                batch: pa.RecordBatch | pa.Table) -> pa.Table:  # fmt: skip
    """``p_alive``, expected purchases in 90 days and CLV over ``months`` for a batch of the
    buyers' summary, with a fitted model's parameters (all NULL without one) — the engine's
    model step (:meth:`~empatia.store.engine.Engine.map_batches`): pure, row by row."""
    summary = batch.to_pandas()
    persons = pa.array(summary["person_id"].astype(str).tolist(), pa.string())
    n = len(summary)
    if model is None or model.get("kind") != MODEL_KIND or not n:
        nulls = pa.nulls(n, pa.float64())
        return pa.Table.from_arrays([persons, nulls, nulls, nulls], schema=SCHEMA)
    from lifetimes import GammaGammaFitter, ModifiedBetaGeoFitter
    from lifetimes.utils import _customer_lifetime_value

    f, r, t, m = _columns(summary)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        bgf = ModifiedBetaGeoFitter(penalizer_coef=model["penalizer"])
        bgf.params_ = pd.Series(model["bgf"])
        bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # as fit sets it
        p_alive = bgf.conditional_probability_alive(f, r, t)
        exp90 = bgf.conditional_expected_number_of_purchases_up_to_time(90, f, r, t)
        # Spend is fitted on amounts in the reporting currency only: a buyer whose amounts
        # could not be converted (monetary value NaN) gets no CLV.
        clv = np.full(n, np.nan)
        priced = np.isfinite(m)
        if model["gg"] and priced.any():
            gg = GammaGammaFitter(penalizer_coef=model["penalizer"])
            gg.params_ = pd.Series(model["gg"])
            fp, mp = f[priced], np.maximum(m[priced], 0.01)
            spend = np.asarray(gg.conditional_expected_average_profit(fp, mp), float)
            # Gamma-Gamma's expected spend holds where p·x + q > 1: with q ≤ 1 (the 100k demo
            # world's fit) a one-time buyer's came out negative. There the buyer's own
            # average order stands in.
            held = (model["gg"]["p"] * fp + model["gg"]["q"] > 1) & np.isfinite(spend)
            clv[priced] = _customer_lifetime_value(  # GammaGammaFitter's, with that spend
                bgf, pd.Series(fp), pd.Series(r[priced]), pd.Series(t[priced]),
                pd.Series(np.where(held, spend, mp)), time=months, freq="D",
                discount_rate=discount,
            )  # fmt: skip

    def clean(a: object) -> pa.Array:
        v = np.round(np.asarray(a, dtype=float), 6)
        return pa.array(np.where(np.isfinite(v), v, np.nan), pa.float64(), from_pandas=True)

    return pa.Table.from_arrays([persons, clean(p_alive), clean(exp90), clean(clv)], schema=SCHEMA)


def fit_clv(summary: pd.DataFrame, config: ProfileConfig) -> pa.Table:
    """Fit and predict in one go, in this process: :func:`fit_model` then :func:`score_batch`."""
    return score_batch(fit_model(summary, config), config.clv_months, config.clv_discount_monthly,
                       pa.Table.from_pandas(summary, preserve_index=False))  # fmt: skip
