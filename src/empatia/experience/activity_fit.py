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
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from empatia.experience.activity import (
    DRIVERS,
    SURE,
    _facts_sql,
    _has,
    default_weights,
    drivers_sql,
)
from empatia.experience.config import ExperienceConfig
from empatia.experience.mood import TRAJECTORY_SQL

log = logging.getLogger(__name__)

#: The rhythm's model is fitted on at most this many people (a stable sample by id).
FIT_SAMPLE = 20_000
#: Neither side of the label (bought after the cutoff or not) may have fewer people.
MIN_EACH_SIDE = 20
_BASE = ("r", "alpha", "s", "beta")


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


def _summary(con: duckdb.DuckDBPyConnection, facts: str, at: datetime) -> pd.DataFrame:
    """Per person, the Pareto/NBD summary of their active days as of ``at``."""
    return con.execute(
        f"""select person_id, (active_days - 1)::double as frequency,
                (date_diff('day', first_active_at::date, last_active_at::date))::double as recency,
                (date_diff('day', first_active_at::date, ?::date))::double as T
            from {facts} where active_days >= 1 order by person_id""",
        [at],
    ).df()


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


def _fit_base(s: pd.DataFrame) -> dict[str, float] | None:
    from lifetimes import ParetoNBDFitter

    if len(s) > FIT_SAMPLE:
        s = s.iloc[np.argsort(pd.util.hash_pandas_object(s["person_id"], index=False).to_numpy())
                   [:FIT_SAMPLE]]  # fmt: skip
    t = np.maximum(s["T"].to_numpy(float), s["recency"].to_numpy(float))
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            m = ParetoNBDFitter(penalizer_coef=0.001).fit(
                s["frequency"].to_numpy(float), s["recency"].to_numpy(float), t
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


def _now(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    row = con.execute('select min("timestamp"), max("timestamp") from events').fetchone()
    return (row[0], row[1]) if row else (None, None)


def fit(con: duckdb.DuckDBPyConnection, cfg: ExperienceConfig, p_alive: bool) -> Model | None:
    """Fit the rhythm and the weights on the store's past (``None``: too little of it)."""
    first, now = _now(con)
    if now is None or first is None:
        return None
    cutoff = now - timedelta(days=float(cfg.active_fit_days))
    if cutoff - first < timedelta(days=30):
        return None
    at = f"'{cutoff.isoformat()}'::timestamptz"
    texts = _has(con, "text_analysis")
    con.execute(
        "create or replace temp table _emp_facts_at as select *, null::double as p_alive"
        f" from ({_facts_sql(cfg, texts, None, at)})"
    )
    try:
        s = _summary(con, "_emp_facts_at", cutoff)
        buyers = _scalar(con, "select count(*) from _emp_facts_at where last_order_at is not null")
        if buyers < cfg.active_fit_min_people:
            return None
        base = _fit_base(s)  # the rhythm as it was known then …
        today = _fit_base(_summary(con, "experience_activity", now))  # … and as known now
        if base is None or today is None:
            return None
        con.register("_emp_base_at", pd.DataFrame({"person_id": s["person_id"],
                                                   "p_base": _alive(base, s)}))  # fmt: skip
        traj = "_emp_traj_at"
        if texts:
            only = f'and a."timestamp" <= {at}'
            con.execute(
                f"create or replace temp table {traj} as {TRAJECTORY_SQL.format(only=only)}"
            )
        else:
            traj = "experience_trajectories"
        sql = drivers_sql(cfg, {d: 0.0 for d in DRIVERS}, p_alive=p_alive,
                          base="select * from _emp_base_at", facts="_emp_facts_at", at=at,
                          trajectories=traj)  # fmt: skip
        xcols = ", ".join(f"x.x_{d}" for d in DRIVERS)
        df = con.execute(
            f"""with later as (select distinct ep.person_id from events e
                               join event_persons ep using (seq)
                               where e.event = 'Order Completed' and e."timestamp" > {at})
                select x.p_base, {xcols}, later.person_id is not null as bought
                from ({sql}) x left join later using (person_id)
                where x.p_base is not null and x.last_order_at is not null"""
        ).df()
    finally:
        con.execute("drop table if exists _emp_facts_at")
        con.execute("drop table if exists _emp_traj_at")
        try:
            con.unregister("_emp_base_at")
        except Exception:  # noqa: BLE001, S110 - never registered
            pass
    y = df["bought"].to_numpy(float)
    if min(y.sum(), len(y) - y.sum()) < MIN_EACH_SIDE:
        return None
    x = df[[f"x_{d}" for d in DRIVERS]].to_numpy(float)
    prior = np.array([default_weights(cfg)[d] for d in DRIVERS])
    intercept, scale, w = fit_weights(x, _logit(df["p_base"].to_numpy(float)), y, prior,
                                      float(cfg.active_fit_prior_sd))  # fmt: skip
    people = {d: int((x[:, i] > 0).sum()) for i, d in enumerate(DRIVERS)} | {"scale": len(df)}
    return Model(base=today, weights={d: round(float(v), 4) for d, v in zip(DRIVERS, w, strict=True)},
                 scale=scale, intercept=intercept, people=people, cutoff=cutoff, fitted_at=now)  # fmt: skip


def save(con: duckdb.DuckDBPyConnection, m: Model, cfg: ExperienceConfig) -> None:
    prior = default_weights(cfg)
    rows: list[tuple[str, float, float | None, int | None]] = [
        (d, m.weights[d], prior[d], m.people[d]) for d in DRIVERS
    ]
    rows += [
        ("scale", m.scale, None, m.people["scale"]),
        ("intercept", m.intercept, None, None),
        ("buyers", float(m.people.get("buyers", 0)), None, None),
    ]  # today's, for freshness
    rows += [(f"base_{k}", v, None, None) for k, v in m.base.items()]
    con.execute("delete from experience_activity_model")
    con.executemany(
        "insert into experience_activity_model values (?, ?, ?, ?, ?, ?, ?)",
        [(*r, m.cutoff, m.fitted_at, _settings(cfg)) for r in rows],
    )


def load(con: duckdb.DuckDBPyConnection) -> tuple[Model, str] | None:
    rows = con.execute(
        "select name, value, people, cutoff, fitted_at, settings from experience_activity_model"
    ).fetchall()
    if not rows:
        return None
    v = {r[0]: r[1] for r in rows}
    people = {r[0]: int(r[2]) for r in rows if r[2] is not None}
    people["buyers"] = int(v.get("buyers", 0))
    if not all(f"base_{k}" in v for k in _BASE) or not all(d in v for d in DRIVERS):
        return None
    m = Model(base={k: v[f"base_{k}"] for k in _BASE}, weights={d: v[d] for d in DRIVERS},
              scale=v.get("scale", 1.0), intercept=v.get("intercept", 0.0), people=people,
              cutoff=rows[0][3], fitted_at=rows[0][4])  # fmt: skip
    return m, rows[0][5]


def current(
    con: duckdb.DuckDBPyConnection, cfg: ExperienceConfig, p_alive: bool
) -> tuple[Model | None, str]:
    """The model to apply now: the kept one while fresh, else a new fit (``None``: the
    hand-set weights on the purchase model). Also says which: kept, fitted or hand-set.

    ``--full`` keeps a fresh model too, so that an incremental run and a full one agree."""
    kept = load(con)
    m: Model | None
    _, now = _now(con)
    if kept is not None and now is not None:
        m, settings = kept
        buyers = _scalar(con, "select count(*) from experience_activity"
                              " where last_order_at is not null")  # fmt: skip
        fresh = (settings == _settings(cfg)
                 and now - m.fitted_at < timedelta(days=float(cfg.active_fit_refit_days))
                 and abs(buyers - m.people.get("buyers", 0))
                     <= cfg.active_fit_refit_share * buyers)  # fmt: skip
        if fresh:
            return m, "kept"
    m = fit(con, cfg, p_alive)
    if m is None:
        con.execute("delete from experience_activity_model")
        return None, "hand-set"
    m.people["buyers"] = _scalar(con, "select count(*) from experience_activity"
                                      " where last_order_at is not null")  # fmt: skip
    save(con, m, cfg)
    return m, "fitted"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def refresh(con: duckdb.DuckDBPyConnection, cfg: ExperienceConfig) -> dict[str, Any]:
    """Everyone's drivers and ``p_active`` from the facts, profiles and the service journeys,
    with the fitted model (fitted again when due)."""
    row = con.execute(
        "select count(*) from information_schema.columns"
        " where table_name = 'profiles' and column_name = 'p_alive'"
    ).fetchone()
    p_alive = bool(row and row[0])
    model, how = current(con, cfg, p_alive)
    base = None
    if model is not None:
        _, now = _now(con)
        assert now is not None  # a model is kept or fitted only when the events have a latest
        s = _summary(con, "experience_activity", now)
        con.register("_emp_base_now", pd.DataFrame({"person_id": s["person_id"],
                                                    "p_base": _alive(model.base, s)}))  # fmt: skip
        base = "select * from _emp_base_now"
    weights = model.weights if model is not None else default_weights(cfg)
    sql = drivers_sql(cfg, weights, p_alive=p_alive, base=base)
    try:
        con.execute(f"create or replace temp table _emp_activity as {sql}")
    finally:
        if base is not None:
            con.unregister("_emp_base_now")
    con.execute("""
        update experience_activity a set p_alive = x.p_alive, p_active = x.p_active,
            drivers = x.drivers, driver = x.driver, as_of = x.as_of
        from _emp_activity x where x.person_id = a.person_id
    """)
    row = con.execute(
        "select count(p_active), count(p_active) filter (where p_active < p_alive - 1e-9)"
        " from experience_activity"
    ).fetchone()
    con.execute("drop table if exists _emp_activity")
    assert row is not None
    return {"still_active": int(row[0]), "still_active_lowered": int(row[1]),
            "still_active_weights": how}  # fmt: skip
