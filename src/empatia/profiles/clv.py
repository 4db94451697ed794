"""Customer lifetime value: MBG/NBD (will they buy again, how often) + Gamma-Gamma (how much).

The modified BG/NBD (Batislam et al. 2007) lets a customer drop out after their first
purchase too. Plain BG/NBD cannot: it calls every one-time buyer 100% "still active" however
long ago they bought, which on the demo world made "still active" no better than a coin
against the truth's churn (AUC 0.50; 0.72 with MBG/NBD, `benchmarks/demo_truth.py`).

Fitted with `lifetimes` on one row per buyer — ``frequency`` (repeat purchase days),
``recency`` (days from first to last purchase day), ``T`` (days from first purchase to
``as_of``) and ``monetary_value`` (average order value in the reporting currency; NaN when
it could not be converted: no CLV then, but still ``p_alive``). The summary is small (one row per
buyer), so it is fitted in memory whatever the engine; rows come sorted by person, so the
fit is the same on every engine.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from empatia.profiles.config import ProfileConfig

log = logging.getLogger(__name__)

COLUMNS = ("person_id", "p_alive", "expected_purchases_90d", "clv_12m")
#: The purchase model behind ``p_alive`` (a kept model of another kind is fitted again).
MODEL_KIND = "mbg_nbd"


def _empty(persons: pd.Series) -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array(persons.astype(str).tolist(), pa.string()),
            "p_alive": pa.nulls(len(persons), pa.float64()),
            "expected_purchases_90d": pa.nulls(len(persons), pa.float64()),
            "clv_12m": pa.nulls(len(persons), pa.float64()),
        }
    )


def fit_clv(
    summary: pd.DataFrame,
    config: ProfileConfig,
    *,
    fit: bool = True,
    model: dict[str, Any] | None = None,
    keep: dict[str, Any] | None = None,
) -> pa.Table:
    """``(person_id, p_alive, expected_purchases_90d, clv_12m)`` for every buyer.

    Left empty (NULL) when there are too few buyers or the fit does not converge (or, with
    ``fit=False``, always: a part of the buyers, whose CLV is fitted later with everyone's).
    ``model``: the parameters of an earlier fit (what ``keep`` receives): predict with them,
    without fitting again.
    """
    persons = summary["person_id"]
    if not fit or len(summary) < config.clv_min_customers or (summary["frequency"] > 0).sum() < 2:
        return _empty(persons)
    from lifetimes import GammaGammaFitter, ModifiedBetaGeoFitter

    if model is not None and model.get("kind") != MODEL_KIND:
        model = None  # kept from another model: fit again

    f = summary["frequency"].to_numpy(float)
    r = summary["recency"].to_numpy(float)
    t = np.maximum(summary["T"].to_numpy(float), r)
    m = summary["monetary_value"].to_numpy(float)
    penalizers: tuple[float, ...]
    penalizers = (config.clv_penalizer, config.clv_penalizer * 10, config.clv_penalizer * 100)
    if model is not None:
        penalizers = (float(model["penalizer"]),)
    for penalizer in penalizers:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                bgf = ModifiedBetaGeoFitter(penalizer_coef=penalizer)
                if model is None:
                    bgf.fit(f, r, t)
                else:
                    bgf.params_ = pd.Series(model["bgf"])
                    bgf.predict = (
                        bgf.conditional_expected_number_of_purchases_up_to_time
                    )  # as fit sets it
                p_alive = bgf.conditional_probability_alive(f, r, t)
                exp90 = bgf.conditional_expected_number_of_purchases_up_to_time(90, f, r, t)
                # Spend is fitted on amounts in the reporting currency only: a buyer whose
                # amounts could not be converted (monetary value NaN) gets no CLV.
                repeat = (f > 0) & (m > 0)
                clv = np.full(len(f), np.nan)
                gg = None
                if (model is None and repeat.sum() >= 2) or (model is not None and model["gg"]):
                    gg = GammaGammaFitter(penalizer_coef=penalizer)
                    if model is None:
                        gg.fit(f[repeat], m[repeat])
                    else:
                        gg.params_ = pd.Series(model["gg"])
                    priced = np.isfinite(m)
                    clv[priced] = gg.customer_lifetime_value(
                        bgf, pd.Series(f[priced]), pd.Series(r[priced]), pd.Series(t[priced]),
                        pd.Series(np.maximum(m[priced], 0.01)), time=config.clv_months, freq="D",
                        discount_rate=config.clv_discount_monthly,
                    )  # fmt: skip
            break
        except Exception as e:  # noqa: BLE001 - a model that cannot be fitted leaves CLV empty
            log.info("CLV fit with penalizer %s failed: %s", penalizer, e)
    else:
        log.warning("CLV model could not be fitted; CLV left empty")
        return _empty(persons)
    if keep is not None:
        keep.update(kind=MODEL_KIND, penalizer=penalizer, bgf={k: float(v) for k, v in bgf.params_.items()},
                    gg={k: float(v) for k, v in gg.params_.items()} if gg is not None else None,
                    buyers=len(summary))  # fmt: skip

    def clean(a: object) -> pa.Array:
        v = np.round(np.asarray(a, dtype=float), 6)
        return pa.array(np.where(np.isfinite(v), v, np.nan), pa.float64(), from_pandas=True)

    return pa.table(
        {
            "person_id": pa.array(persons.astype(str).tolist(), pa.string()),
            "p_alive": clean(p_alive),
            "expected_purchases_90d": clean(exp90),
            "clv_12m": clean(np.asarray(clv)),
        }
    )
