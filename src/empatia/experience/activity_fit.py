"""Still active (chance), fitted on the store's own past: the activity rhythm's model and the
weights of what people said and went through.

Two things are fitted from the store alone, at a moment in its past (the *cutoff*,
``active_fit_days`` before the latest event), and then applied to today:

- **the rhythm**: a Pareto/NBD model (``lifetimes``) of the days each person did anything
  themselves (a visit, an order, a message; :data:`~empatia.experience.activity.ACTIVE_EVENTS`),
  not only of the days they bought: a person who still browses is still around. Its chance
  that the person is still around is what the drivers move (on a store too small to fit it,
  the purchase model's ``profiles.p_alive``);
- **the weights** of the drivers (a threat, a case that hurt, angry words, an open case,
  repeated contacts, a falling mood, quiet past their rhythm): everyone's drivers as they
  stood at the cutoff, against whether they bought after it. A logistic regression,
  ``intercept + scale · (rhythm's log-odds − Σ weight · driver)``, so each weight stays in
  the rhythm's own log-odds (a weight of 2 divides the odds by e² ≈ 7.4). A store's past
  holds few threats, so each weight is pulled toward its hand-set value
  (``ExperienceConfig.active_*``) by a normal prior of ``active_fit_prior_sd``: where the
  store has little evidence the hand-set weight stands, where it has much the data decide.
  A weight never turns a driver into good news (it is at least 0).

The result lands in ``experience_activity_model`` (one row per parameter: its value, the
hand-set prior, how many people had the driver at the cutoff) and is kept while it is
fresh (``active_fit_refit_days`` of event time, buyers within ``active_fit_refit_share``,
the same settings). The truth of any demo world is never read: the label is the store's own
later orders.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from empatia.experience.activity import (
    DRIVERS,
    SURE,
    _ts,
    default_weights,
    drivers_expr,
    facts_expr,
    rhythm,
)
from empatia.experience.config import ExperienceConfig
from empatia.experience.mood import trajectories_expr
from empatia.store.engine import Engine

log = logging.getLogger(__name__)

#: The rhythm's model is fitted on at most this many people (a stable sample by id).
FIT_SAMPLE = 20_000
#: Neither side of the label (bought after the cutoff or not) may have fewer people.
MIN_EACH_SIDE = 20
_BASE = ("r", "alpha", "s", "beta")
#: Where the rhythm's fit starts: the middle of the random start lifetimes would draw, so a
#: fit is the same on every run and engine. Nelder–Mead used to stop early on the flat s/β
#: ridge from some random starts; from this one and from others tried (0.1 … 5 for each
#: parameter) it reaches the same maximum of the likelihood (BENCHMARKS, #16).
START = np.ones(len(_BASE))
#: The rows of ``experience_activity_model``.
MODEL = pa.schema([("name", pa.string()), ("value", pa.float64()), ("prior", pa.float64()),
                   ("people", pa.int64()), ("cutoff", pa.timestamp("us", tz="UTC")),
                   ("fitted_at", pa.timestamp("us", tz="UTC")), ("settings", pa.string())])  # fmt: skip
#: The rows of :func:`score`.
SCORED = pa.schema([("person_id", pa.string()), ("p_alive", pa.float64()),
                    ("as_of", pa.timestamp("us", tz="UTC")), ("p_active", pa.float64()),
                    ("drivers", pa.string()), ("driver", pa.string())])  # fmt: skip


@dataclass(frozen=True)
class Model:
    """What a fit produced: the rhythm's parameters and the drivers' weights."""

    base: dict[str, float]
    weights: dict[str, float]
    scale: float
    intercept: float
    people: dict[str, int]
    cutoff: datetime
    fitted_at: datetime


def _settings(cfg: ExperienceConfig) -> str:
    return json.dumps(dict(vars(cfg)), sort_keys=True, default=str)


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def _rows(eng: Engine, expr: ir.Table) -> list[dict[str, Any]]:
    return eng.to_arrow(expr).to_pylist()


def _summary(facts: ir.Table, at: datetime) -> ir.Table:
    """Per person, the Pareto/NBD summary of their active days as of ``at``."""
    s = facts.select("person_id", **rhythm(facts, _ts(at)))
    return s.filter(s.frequency.notnull())


def _by_person(rows: pa.Table) -> pd.DataFrame:
    """A fit's rows (:meth:`~empatia.store.engine.Engine.fit`: in any order) by person."""
    return rows.to_pandas().sort_values("person_id", kind="stable", ignore_index=True)


def _fit_base_step(near: dict[str, float] | None, rows: pa.Table
                   ) -> tuple[None, dict[str, Any]]:  # fmt: skip
    """:func:`_fit_base` as the engine's fit: the parameters are all that comes back."""
    return None, {"base": _fit_base(_by_person(rows), near)}


def _alive(base: dict[str, float], s: pd.DataFrame) -> np.ndarray:
    from lifetimes import ParetoNBDFitter

    m = ParetoNBDFitter()
    m.params_ = pd.Series(base)
    t = np.maximum(s["T"].to_numpy(float), s["recency"].to_numpy(float))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        p = m.conditional_probability_alive(s["frequency"].to_numpy(float),
                                            s["recency"].to_numpy(float), t)  # fmt: skip
    return np.clip(np.nan_to_num(np.asarray(p, float), nan=0.5), 1 - SURE, SURE)


def _fit_base(s: pd.DataFrame, near: dict[str, float] | None = None) -> dict[str, float] | None:
    """The rhythm's Pareto/NBD parameters, fitted from :data:`START` or, given ``near`` (a fit
    of nearly the same people), from there: the same maximum in far fewer steps."""
    from lifetimes import ParetoNBDFitter
    from lifetimes.utils import _scale_time

    if len(s) > FIT_SAMPLE:
        s = s.iloc[np.argsort(pd.util.hash_pandas_object(s["person_id"], index=False).to_numpy())
                   [:FIT_SAMPLE]]  # fmt: skip
    t = np.maximum(s["T"].to_numpy(float), s["recency"].to_numpy(float))
    start = START
    if near is not None and len(t):  # lifetimes fits α and β on its own time scale
        scale = _scale_time(t)
        start = np.array([near["r"], near["alpha"] * scale, near["s"], near["beta"] * scale])
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            m = ParetoNBDFitter(penalizer_coef=0.001).fit(
                s["frequency"].to_numpy(float), s["recency"].to_numpy(float), t,
                initial_params=start,
            )
    except Exception as e:  # noqa: BLE001 - no rhythm model: the purchase model stands in
        log.info("activity rhythm could not be fitted: %s", e)
        return None
    return {k: float(m.params_[k]) for k in _BASE}


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def fit_weights(x: np.ndarray, base_logit: np.ndarray, y: np.ndarray, prior: np.ndarray,
                sd: float) -> tuple[float, float, np.ndarray]:  # fmt: skip
    """Maximum a posteriori ``(intercept, scale, weights)`` of
    ``P(y) = σ(intercept + scale · (base_logit − x · weights))``, weights ~ N(prior, sd), ≥ 0.

    >>> rng = np.random.default_rng(0)
    >>> x = (rng.random((4000, 1)) < 0.2).astype(float)
    >>> b = rng.normal(0, 1, 4000)
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(-(b - 2 * x[:, 0])))).astype(float)
    >>> _, scale, w = fit_weights(x, b, y, np.array([0.5]), 10.0)
    >>> round(float(scale), 1), round(float(w[0]), 1)
    (1.0, 2.0)
    """
    from scipy.optimize import minimize

    def loss(p: np.ndarray) -> float:
        z = p[0] + p[1] * (base_logit - x @ p[2:])
        return float(
            np.sum(np.logaddexp(0, z) - y * z) + np.sum((p[2:] - prior) ** 2) / (2 * sd**2)
        )

    k = x.shape[1]
    bounds = [(None, None), (1e-3, None)] + [(0.0, None)] * k
    res = minimize(loss, np.r_[0.0, 1.0, prior], method="L-BFGS-B", bounds=bounds)
    return float(res.x[0]), float(res.x[1]), np.asarray(res.x[2:], float)


def _now(eng: Engine) -> tuple[datetime | None, datetime | None]:
    ev = eng.table("events")
    row = _rows(eng, ev.aggregate(first=ev["timestamp"].min(), last=ev["timestamp"].max()))
    return (_utc(row[0]["first"]), _utc(row[0]["last"])) if row else (None, None)


def _buyers(eng: Engine, facts: ir.Table) -> int:
    return int(_rows(eng, facts.aggregate(n=facts.count(where=facts.last_order_at.notnull())))[0]["n"] or 0)


def _later(eng: Engine, at: datetime) -> ir.Table:
    """Who bought after ``at`` (``person_id``)."""
    ev = eng.table("events")
    e = ev.filter(ev.event == "Order Completed", ev["timestamp"] > _ts(at)).select("seq")
    ep = eng.table("event_persons").select("seq", "person_id")
    return e.join(ep, "seq").select("person_id").distinct()


def _label(eng: Engine, cfg: ExperienceConfig, facts: ir.Table, texts: bool,
           cutoff: datetime) -> ir.Table:  # fmt: skip
    """The buyers' drivers as they stood at ``cutoff`` (with their rhythm's summary then),
    and whether they bought after it (``bought``)."""
    traj = trajectories_expr(eng, until=_ts(cutoff)) if texts else None
    x = drivers_expr(eng, cfg, p_alive=False, facts=facts, at=cutoff, trajectories=traj)
    x = x.filter(x.frequency.notnull(), x.last_order_at.notnull())
    later = _later(eng, cutoff).mutate(bought=ibis.literal(True))
    x = x.left_join(later, "person_id").drop("person_id_right")
    return x.select("person_id", "frequency", "recency", "T", *(f"x_{d}" for d in DRIVERS),
                    bought=x.bought.fill_null(False))  # fmt: skip


def _fit_weights_step(base: dict[str, float], prior: np.ndarray, sd: float, rows: pa.Table
                      ) -> tuple[None, dict[str, Any]]:  # fmt: skip
    """The drivers' weights as the engine's fit (``None``: too few people on a side of the
    label): the intercept, scale, weights and how many had each driver come back."""
    df = _by_person(rows)
    y = df["bought"].to_numpy(float)
    if min(y.sum(), len(y) - y.sum()) < MIN_EACH_SIDE:
        return None, {"weights": None}
    x = df[[f"x_{d}" for d in DRIVERS]].fillna(0.0).to_numpy(float)
    intercept, scale, w = fit_weights(x, _logit(_alive(base, df)), y, prior, sd)
    people = {d: int((x[:, i] > 0).sum()) for i, d in enumerate(DRIVERS)} | {"scale": len(df)}
    return None, {"weights": (intercept, scale, [float(v) for v in w], people)}


def fit(eng: Engine, cfg: ExperienceConfig, texts: bool) -> Model | None:
    """Fit the rhythm and the weights on the store's past (``None``: too little of it).

    Each fit needs its people at once: the engine's fit runs it where the rows are (in
    process on DuckDB, in one executor's Python worker on Spark) and brings back only the
    parameters."""
    first, now = _now(eng)
    if now is None or first is None:
        return None
    cutoff = now - timedelta(days=float(cfg.active_fit_days))
    if cutoff - first < timedelta(days=30):
        return None
    facts = eng.materialize(facts_expr(eng, cfg, texts, until=cutoff), "activity_facts_at")
    try:
        if _buyers(eng, facts) < cfg.active_fit_min_people:
            return None
        # the rhythm as it was known then, and now (from there)
        base = eng.fit(_summary(facts, cutoff), partial(_fit_base_step, None))[1]["base"]
        if base is None:
            return None
        now_rows = _summary(eng.table("experience_activity"), now)
        today = eng.fit(now_rows, partial(_fit_base_step, base))[1]["base"]
        if today is None:
            return None
        prior = np.array([default_weights(cfg)[d] for d in DRIVERS])
        step = partial(_fit_weights_step, base, prior, float(cfg.active_fit_prior_sd))
        fitted = eng.fit(_label(eng, cfg, facts, texts, cutoff), step)[1]["weights"]
    finally:
        eng.drop_temp(facts)
    if fitted is None:
        return None
    intercept, scale, w, people = fitted
    return Model(base=today, weights={d: round(float(v), 4) for d, v in zip(DRIVERS, w, strict=True)},
                 scale=scale, intercept=intercept, people=people, cutoff=cutoff, fitted_at=now)  # fmt: skip


def save(eng: Engine, m: Model | None, cfg: ExperienceConfig) -> None:
    """Keep ``m`` in ``experience_activity_model`` (``None``: empty it)."""
    rows: list[tuple[str, float, float | None, int | None]] = []
    if m is not None:
        prior = default_weights(cfg)
        rows = [(d, m.weights[d], prior[d], m.people[d]) for d in DRIVERS]
        rows += [
            ("scale", m.scale, None, m.people["scale"]),
            ("intercept", m.intercept, None, None),
            ("buyers", float(m.people.get("buyers", 0)), None, None),
        ]  # today's, for freshness
        rows += [(f"base_{k}", v, None, None) for k, v in m.base.items()]
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    n = len(rows)
    data = pa.table([*cols, [m.cutoff if m else None] * n, [m.fitted_at if m else None] * n,
                     [_settings(cfg)] * n], schema=MODEL)  # fmt: skip
    eng.write_arrow(data, "experience_activity_model")


def load(eng: Engine) -> tuple[Model, str] | None:
    rows = _rows(eng, eng.table("experience_activity_model").select(
        "name", "value", "people", "cutoff", "fitted_at", "settings"))  # fmt: skip
    if not rows:
        return None
    v = {r["name"]: r["value"] for r in rows}
    people = {r["name"]: int(r["people"]) for r in rows if r["people"] is not None}
    people["buyers"] = int(v.get("buyers", 0))
    if not all(f"base_{k}" in v for k in _BASE) or not all(d in v for d in DRIVERS):
        return None
    cutoff, fitted_at = _utc(rows[0]["cutoff"]), _utc(rows[0]["fitted_at"])
    assert cutoff is not None and fitted_at is not None
    m = Model(base={k: v[f"base_{k}"] for k in _BASE}, weights={d: v[d] for d in DRIVERS},
              scale=v.get("scale", 1.0), intercept=v.get("intercept", 0.0), people=people,
              cutoff=cutoff, fitted_at=fitted_at)  # fmt: skip
    return m, rows[0]["settings"]


def current(eng: Engine, cfg: ExperienceConfig, texts: bool) -> tuple[Model | None, str]:
    """The model to apply now: the kept one while fresh, else a new fit (``None``: the
    hand-set weights on the purchase model). Also says which: kept, fitted or hand-set.

    ``--full`` keeps a fresh model too, so that an incremental run and a full one agree."""
    kept = load(eng)
    m: Model | None
    _, now = _now(eng)
    buyers = _buyers(eng, eng.table("experience_activity"))
    if kept is not None and now is not None:
        m, settings = kept
        fresh = (settings == _settings(cfg)
                 and now - m.fitted_at < timedelta(days=float(cfg.active_fit_refit_days))
                 and abs(buyers - m.people.get("buyers", 0))
                     <= cfg.active_fit_refit_share * buyers)  # fmt: skip
        if fresh:
            return m, "kept"
    m = fit(eng, cfg, texts)
    if m is not None:
        m.people["buyers"] = buyers
    save(eng, m, cfg)
    return m, "hand-set" if m is None else "fitted"


def _lowered(batch: pa.RecordBatch, weights: dict[str, float]
             ) -> tuple[np.ndarray, list[str | None], list[str | None]]:  # fmt: skip
    """Per row of ``batch``: the drivers' total (each present driver's value × weight, added
    in :data:`DRIVERS` order), the drivers shown (those that lowered the chance, and the quiet
    spell), strongest first, and the strongest one's words."""
    n = batch.num_rows
    x = np.column_stack([batch.column(f"x_{d}").to_numpy(zero_copy_only=False).astype(float)
                         for d in DRIVERS]) if n else np.zeros((0, len(DRIVERS)))  # fmt: skip
    present = ~np.isnan(x)
    c = x * np.array([float(weights.get(d, 0.0)) for d in DRIVERS])
    total = np.zeros(n)
    for j in range(len(DRIVERS)):
        total = total + np.where(present[:, j], c[:, j], 0.0)
    shown = present & ((c > 0) | (np.array(DRIVERS) == "quiet"))
    codes: list[str | None] = [None] * n
    words: list[str | None] = [None] * n
    says = [batch.column(f"says_{d}").to_pylist() for d in DRIVERS]
    rows, cols = np.nonzero(shown)  # by row, then driver
    shown_at = zip(rows.tolist(), cols.tolist(), c[rows, cols].tolist(), strict=True)
    for i, group in groupby(shown_at, key=itemgetter(0)):
        ds = [(w, DRIVERS[j], says[j][i]) for _, j, w in group]
        codes[i] = ",".join(d for _, d, _ in sorted(ds, reverse=True))
        words[i] = max(ds, key=lambda t: (t[0], t[2] is not None, t[2] or ""))[2]
    return total, codes, words


def score(batch: pa.RecordBatch, weights: dict[str, float], base: dict[str, float] | None
          ) -> pa.Table:  # fmt: skip
    """A Python step (:meth:`~empatia.store.engine.Engine.map_batches`) over the rows of
    :func:`~empatia.experience.activity.drivers_expr`: ``p_active``, the chance that the
    person is still around (the rhythm's with ``base``, else the purchase model's
    ``p_alive``) moved in log-odds by each driver's value times its weight; the drivers that
    lowered it (and the quiet spell), strongest first, and the strongest in words; with the
    row's ``p_alive`` and ``as_of``, which are stored beside them."""
    p_alive = np.array(batch.column("p_alive").to_pylist(), dtype=float)  # null: nan
    p0 = p_alive
    if base is not None:
        s = pd.DataFrame({c: np.array(batch.column(c).to_pylist(), dtype=float)
                          for c in ("frequency", "recency", "T")})  # fmt: skip
        some = ~np.isnan(s["frequency"].to_numpy())
        p_base = np.full(len(s), np.nan)
        if some.any():
            p_base[some] = _alive(base, s[some])
        p0 = np.where(np.isnan(p_base), p_alive, p_base)
    total, codes, words = _lowered(batch, weights)
    p = np.clip(p0, 1 - SURE, SURE)
    p_active = 1 / (1 + np.exp(-(np.log(p / (1 - p)) - total)))
    return pa.table({
        "person_id": batch.column("person_id"),
        "p_alive": batch.column("p_alive"),
        "as_of": batch.column("as_of"),
        "p_active": pa.array(p_active, pa.float64(), mask=np.isnan(p_alive)),
        "drivers": pa.array(codes, pa.string()),
        "driver": pa.array(words, pa.string()),
    })  # fmt: skip


def refresh(eng: Engine, cfg: ExperienceConfig, *, texts: bool, p_alive: bool) -> dict[str, Any]:
    """Everyone's drivers and ``p_active`` from the facts, profiles and the service journeys,
    with the fitted model (fitted again when due), written to ``experience_activity``.

    ``texts``: the store has ``text_analysis``; ``p_alive``: its profiles have ``p_alive``."""
    model, how = current(eng, cfg, texts)
    weights = model.weights if model is not None else default_weights(cfg)
    step = partial(score, weights=weights, base=model.base if model is not None else None)
    scored = eng.map_batches(drivers_expr(eng, cfg, p_alive=p_alive), step, SCORED, "activity_scored")
    try:
        eng.update("experience_activity", scored, "person_id")
        row = _rows(eng, scored.aggregate(
            n=scored.p_active.count(),
            low=scored.p_active.count(where=scored.p_active < scored.p_alive - 1e-9)))  # fmt: skip
    finally:
        eng.drop_temp(scored)
    return {"still_active": int(row[0]["n"]), "still_active_lowered": int(row[0]["low"]),
            "still_active_weights": how}  # fmt: skip
