"""Building ``profiles`` and ``profile_traits`` from events and ``event_persons`` (Ibis).

"Now" is the time of the latest event (``as_of``), so a run over the same events always gives
the same profiles, on every engine. Times of day are UTC.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis import _

from empatia.profiles.clv import SCHEMA as CLV_SCHEMA
from empatia.profiles.clv import fit_on, fit_sample, score_batch
from empatia.profiles.config import ProfileConfig
from empatia.profiles.money import Reporting, daily_rates
from empatia.store.engine import Engine
from empatia.store import state

#: Traits kept per person (tracking plan, "Traits"), and the JSON key each is read from.
TRAITS: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "first_name": "firstName",
    "last_name": "lastName",
    "language": "language",
    "market": "market",
    "tier": "tier",
    "profession": "profession",
    "followers": "followers",
    "vip": "vip",
    "birth_date": "birthDate",
    "city": "address.city",
    "press": "press",
    "referrals": "referrals",
}
PROFILE_TRAITS = (
    "email", "phone", "first_name", "last_name", "language", "market", "tier", "profession",
    "followers", "vip",
)  # fmt: skip
CHANNELS = ("web", "app", "store", "call_centre", "email", "chat", "crm", "booking")
ORDER_EVENT = "Order Completed"
#: The columns of ``events`` profiles read (all an incremental run copies of its people's).
_COLUMNS = ("seq", "type", "event", "source", "timestamp", "raw")
DAY = 86400


def event_facts(eng: Engine, events: ir.Table) -> ir.Table:
    """Per event: seq, time, day number, UTC hour, channel (tracking plan, "Channels")."""
    ctx, prop = eng.json_strs(events.raw, ["$.context.channel", "$.properties.channel"])
    channel = ibis.coalesce(
        ctx,
        ibis.cases((events.type == "page", "web"), (events.type == "screen", "app"), else_=None),
        prop,
        ibis.literal("unknown"),
    )
    return events.select(
        "seq", "type", "event", "source", "timestamp",
        epoch=events.timestamp.epoch_seconds().floor().cast("int64"),
        hour=events.timestamp.hour().cast("int32"),
        channel=channel.lower(),
    )  # fmt: skip


def trait_values(
    eng: Engine,
    events: ir.Table,
    facts: ir.Table,
    config: ProfileConfig,
    ep: ir.Table | None = None,
) -> ir.Table:
    """``profile_traits``: per person and trait, the value of the winning source."""
    with_traits = events.filter(events.raw.contains('"traits"'))
    # each event's JSON read once, then one row per trait
    paths = [p for key in TRAITS.values() for p in (f"$.traits.{key}", f"$.context.traits.{key}")]
    values = eng.json_strs(with_traits.raw, paths)
    wide = with_traits.select("seq", **{trait: ibis.coalesce(values[2 * i], values[2 * i + 1])
                                        for i, trait in enumerate(TRAITS)})  # fmt: skip
    # one row per trait in one pass over the read values (a union of a select per trait read
    # the events once per trait where the engine inlines ``wide``: Spark does)
    long = wide.pivot_longer(list(TRAITS), names_to="trait", values_to="value")
    long = long.filter(_.value.notnull() & (_.value.strip() != ""))
    long = long.join(facts, "seq").join(eng.table("event_persons") if ep is None else ep, "seq")
    src = ibis.coalesce(
        ibis.cases((long.channel != "unknown", long.channel), else_=None), long.source
    )
    long = long.mutate(src=src)
    rank = ibis.literal(len(config.source_precedence) + 1)
    for i, name in reversed(list(enumerate(config.source_precedence))):
        rank = ibis.cases(((long.src == name) | (long.source == name), i), else_=rank)
    overrides = config.trait_precedence
    for trait, order in overrides.items():
        r = ibis.literal(len(order) + 1)
        for i, name in reversed(list(enumerate(order))):
            r = ibis.cases(((long.src == name) | (long.source == name), i), else_=r)
        rank = ibis.cases((long.trait == trait, r), else_=rank)
    long = long.mutate(rank=rank)
    w = ibis.window(
        group_by=["person_id", "trait"],
        order_by=[long.rank, long.timestamp.desc(), long.seq.desc()],
    )
    best = long.mutate(r=ibis.row_number().over(w)).filter(_.r == 0)
    return best.select(
        "person_id",
        "trait",
        value=best.value.strip(),
        source="src",
        seq="seq",
        timestamp="timestamp",
    )


def _mode(t: ir.Table, col: str) -> ir.Table:
    counts = t.group_by("person_id", col).aggregate(n=_.count())
    w = ibis.window(group_by="person_id", order_by=[counts.n.desc(), counts[col]])
    return counts.mutate(r=ibis.row_number().over(w)).filter(_.r == 0).select("person_id", col)


def _revenue(eng: Engine, orders: ir.Table, money: Reporting) -> ir.Table:
    """Per buyer: revenue in the reporting currency, or NULL with the reason; sums per currency.

    Each amount converts with its day's rate (or the latest before it). A currency without a
    rate is never added to others: revenue stays NULL and ``revenue_note`` names it. Orders
    without a (valid) currency are left out of revenue, and the note counts them.
    """
    first, last = orders.day.min().to_pyarrow().as_py(), orders.day.max().to_pyarrow().as_py()
    rates = daily_rates(eng, money.currency, int(first or 0), int(last or 0))
    o = orders.left_join(rates, [orders.currency == rates.currency, orders.day == rates.day])
    rate = ibis.cases((o.currency == money.currency, 1.0), else_=o.rate)
    o = o.select(o.person_id, o.currency, o.total, o.rate_date, value=o.total / rate)
    pc = o.group_by("person_id", "currency").aggregate(
        n=o.count(),
        amount=o.total.sum().round(2),
        value=o.value.sum(),
        unconverted=o.value.isnull().sum(),
        rates_from=o.rate_date.min(),
        rates_to=o.rate_date.max(),
    )
    known = pc.currency.notnull()
    missing = known & (pc.unconverted > 0)
    # The map of sums per currency is written as DuckDB's map text (``{PLN=860.0}``; the store
    # column casts it): Spark's maps do not survive Ibis's Arrow conversion, and Spark has no
    # ordered aggregates, so nothing here depends on the order rows are collected in.
    entries = pc.currency.concat("=", pc.amount.cast("string")).collect(where=known)
    per = pc.group_by("person_id").aggregate(
        value=pc.value.sum(where=known),
        missing_list=pc.currency.collect(where=missing),
        unknown=pc.n.sum(where=pc.currency.isnull()),
        priced_orders=pc.n.sum(where=known),
        entries=entries,
        rates_from=pc.rates_from.min(),
        rates_to=pc.rates_to.max(),
    )
    per = per.mutate(
        missing=ibis.cases(
            (per.missing_list.length() > 0, per.missing_list.sort().join(", ")),
            else_=ibis.null("string"),
        ),
        revenue_by_currency=ibis.cases(
            (per.entries.length() > 0, "{" + per.entries.sort().join(", ") + "}"),
            else_=ibis.null("string"),
        ),
    )
    no_rate = ibis.literal(f"no {money.currency} rate for ").concat(
        per.missing, ibis.literal(": convert with `empatia rates import`")
    )
    unknown = per.unknown.cast("string").concat(
        ibis.cases((per.unknown == 1, " order"), else_=" orders"),
        ibis.literal(" without a currency left out"),
    )
    return per.select(
        "person_id",
        "revenue_by_currency",
        "rates_from",
        "rates_to",
        priced_orders=ibis.coalesce(per.priced_orders, 0),
        revenue=ibis.cases(
            (per.missing.isnull() & (per.priced_orders > 0), per.value.round(2)),
            else_=ibis.null("float64"),
        ),
        revenue_note=ibis.literal("; ").join([
            ibis.cases((per.missing.notnull(), no_rate), else_=ibis.null("string")),
            ibis.cases((per.unknown > 0, unknown), else_=ibis.null("string")),
        ]).nullif(""),
    )  # fmt: skip


def clv_step(eng: Engine, summary: ir.Table, config: ProfileConfig,
             model: dict[str, Any] | None) -> ir.Table:  # fmt: skip
    """Every buyer's ``p_alive``, expected purchases and CLV from the model's parameters
    (NULL without a model): the engine's model step, where the rows are."""
    if model is None:
        return summary.select("person_id", **{c: ibis.null("float64") for c in CLV_SCHEMA.names[1:]})
    fn = partial(score_batch, model, config.clv_months, config.clv_discount_monthly)
    return eng.map_batches(summary, fn, CLV_SCHEMA, "clv")


def rfm_scores(buy: ir.Table) -> ir.Table:
    """``buy`` (a row per buyer: ``person_id``, ``recency_days``, ``orders``, ``revenue``;
    materialized: it is read six times) with the RFM scores, 1–5: the quintile of the buyer's
    value among all buyers' (recency reversed). The monetary score ranks converted revenue
    only; unconverted revenue gets no score."""
    r = share_upto(buy, "_r", -buy.recency_days, (-buy.recency_days).floor())
    f = share_upto(buy, "_f", buy.orders, buy.orders)
    m = share_upto(buy, "_m", buy.revenue, buy.revenue.floor())
    j = buy.left_join(r, "person_id").left_join(f, "person_id").left_join(m, "person_id")
    return j.select(
        *buy.columns,
        r_score=(j._r * 5).ceil().cast("int32"),
        f_score=(j._f * 5).ceil().cast("int32"),
        m_score=(j._m * 5).ceil().cast("int32"),
    )


def share_upto(t: ir.Table, name: str, value: ir.NumericColumn,
               coarse: ir.IntegerColumn) -> ir.Table:  # fmt: skip
    """``(person_id, name)`` for the rows of ``t`` with a ``value``: the share of those rows
    whose ``value`` is at most the row's own — SQL's ``cume_dist()`` over every row,
    computed without one window over every row, which moves them all to one machine.

    ``coarse`` cuts ``value`` keeping its order (its ``floor``, or the value itself where it
    has few distinct values): the rows in lower cuts are counted from a count per cut (a
    small table), those in the row's own cut by a window per cut."""
    x = t.select("person_id", _v=value, _c=coarse.cast("int64"))
    x = x.filter(x._v.notnull())
    per = x.group_by("_c").aggregate(_n=_.count())
    per = per.select(
        _cut=per._c, _n=per._n,
        _below=per._n.sum().over(ibis.cumulative_window(order_by=per._c)) - per._n,
        _all=per._n.sum().over(ibis.window()),
    )  # fmt: skip
    x = x.mutate(_in=ibis.cume_dist().over(group_by=x._c, order_by=x._v))
    j = x.join(per, x._c == per._cut)
    return j.select("person_id", **{name: (j._below + (j._in * j._n).round()) / j._all})


def build_profiles(
    eng: Engine,
    config: ProfileConfig,
    money: Reporting | None = None,
    persons: ir.Table | None = None,
    keep: dict[str, Any] | None = None,
) -> tuple[ir.Table, ir.Table]:
    """The ``profiles`` and ``profile_traits`` tables as expressions.

    ``persons`` (a table with ``person_id``): only their rows, for an incremental run. Their
    population columns (RFM scores, CLV) are then placeholders: :func:`population_columns`
    computes them over everyone once the rows are in the store. ``keep`` receives the
    parameters of the CLV model fitted (see :func:`~empatia.profiles.clv.fit_clv`).
    """
    money = money or Reporting()
    events = eng.table("events")
    ep = eng.table("event_persons")
    as_of: datetime = events.timestamp.max().to_pyarrow().as_py()
    if persons is not None:
        # small tables first: a semi join on them reads only these people's events
        ep = eng.materialize(ep.filter(ep.person_id.isin(persons.person_id)), "ep")
        mine = events.filter(events.seq.isin(ep.seq))
        events = eng.materialize(mine.select(*_COLUMNS), "events")
    facts = eng.materialize(event_facts(eng, events), "facts")
    as_of_epoch = int(as_of.timestamp())
    as_day = as_of_epoch // DAY
    pe = eng.materialize(facts.join(ep, "seq"), "person_events")

    traits = eng.materialize(trait_values(eng, events, facts, config, ep), "traits")

    flags = {c: (pe.channel == c).any() for c in CHANNELS}
    activity = pe.group_by("person_id").aggregate(
        first_seen=pe.timestamp.min(),
        last_seen=pe.timestamp.max(),
        events=pe.count(),
        channel_count=pe.channel.nunique(),
        **{f"ch_{c}": f for c, f in flags.items()},
    )
    channels = ibis.literal(",").join(
        [ibis.cases((activity[f"ch_{c}"], c), else_=ibis.null("string")) for c in CHANNELS]
    )
    activity = activity.mutate(channels=channels).drop(*(f"ch_{c}" for c in CHANNELS))

    # -- purchases: every amount keeps its currency ---------------------------------------
    orders_ev = events.filter(events.event == ORDER_EVENT)
    code = eng.json_str(orders_ev.raw, "$.properties.currency").strip().upper()
    default = ibis.literal(money.currency) if money.assume_missing else ibis.null("string")
    orders = orders_ev.select(
        "seq",
        total=eng.json_str(orders_ev.raw, "$.properties.total").try_cast("float64"),
        currency=ibis.cases((code.re_search(r"^[A-Z]{3}$"), code), else_=default),
    ).join(pe, "seq")
    orders = orders.mutate(day=orders.epoch // DAY, total=ibis.coalesce(orders.total, 0.0))
    buy = orders.group_by("person_id").aggregate(
        orders=orders.count(),
        first_order_epoch=orders.epoch.min(),
        last_order_epoch=orders.epoch.max(),
        first_day=orders.day.min(),
        last_day=orders.day.max(),
        order_days=orders.day.nunique(),
    )
    buy = buy.join(_revenue(eng, orders, money), "person_id", how="left")
    buy = buy.mutate(
        avg_order_value=(buy.revenue / buy.priced_orders).round(2),
        recency_days=((as_of_epoch - buy.last_order_epoch) / DAY).round(4),
        cadence_days=ibis.cases(
            (buy.order_days > 1, ((buy.last_day - buy.first_day) / (buy.order_days - 1)).round(4)),
            else_=ibis.null("float64"),
        ),
    )
    buy = eng.materialize(rfm_scores(eng.materialize(buy, "buyers")), "buy")

    summary = buy.select(
        "person_id",
        frequency=(buy.order_days - 1).cast("float64"),
        recency=(buy.last_day - buy.first_day).cast("float64"),
        T=(as_day - buy.first_day).cast("float64"),
        monetary_value=buy.avg_order_value,
    )
    model = None
    if persons is None:  # an incremental run's CLV is computed with everyone's afterwards
        model = fit_on(eng, fit_sample(summary, config.clv_fit_buyers), config, eng.count(summary))
    if keep is not None and model is not None:
        keep.update(model)
    clv_t = clv_step(eng, summary, config, model)

    # -- one row per person -------------------------------------------------------------
    ids = eng.table("identities")
    if persons is not None:
        ids = ids.filter(ids.person_id.isin(persons.person_id))
    idf = ids.group_by("person_id").aggregate(
        identifiers=ids.count(),
        user_id=ids.value.min(where=ids.kind == "user_id"),
        id_email=ids.value.min(where=ids.kind == "email"),
        id_phone=ids.value.min(where=ids.kind == "phone"),
    )
    tw = traits.group_by("person_id").aggregate(
        **{t: traits.value.max(where=traits.trait == t) for t in PROFILE_TRAITS}
    )
    p = (
        activity.join(idf, "person_id", how="left")
        .join(tw, "person_id", how="left")
        .join(_mode(pe, "channel"), "person_id", how="left")
        .join(_mode(pe, "hour"), "person_id", how="left")
        .join(buy, "person_id", how="left")
        .join(clv_t, "person_id", how="left")
    )
    next_epoch = (p.last_day + p.cadence_days) * DAY
    profile = p.select(
        "person_id",
        identifiers=p.identifiers.cast("int64"),
        user_id=p.user_id,
        email=ibis.coalesce(p.email.strip().lower(), p.id_email),
        phone=ibis.coalesce(p.id_phone, p.phone),
        **{t: p[t] for t in PROFILE_TRAITS if t not in ("email", "phone")},
        first_seen=p.first_seen,
        last_seen=p.last_seen,
        events=p.events.cast("int64"),
        channels=p.channels,
        channel_count=p.channel_count.cast("int64"),
        preferred_channel=p.channel,
        preferred_hour=p.hour.cast("int32"),
        orders=ibis.coalesce(p.orders, 0).cast("int64"),
        revenue=ibis.cases((p.orders.isnull(), 0.0), else_=p.revenue),
        currency=ibis.literal(money.currency),
        revenue_by_currency=p.revenue_by_currency,
        revenue_note=p.revenue_note,
        rates_from=p.rates_from,
        rates_to=p.rates_to,
        avg_order_value=p.avg_order_value,
        first_order_at=p.first_order_epoch.as_timestamp("s"),
        last_order_at=p.last_order_epoch.as_timestamp("s"),
        recency_days=p.recency_days,
        r_score=p.r_score,
        f_score=p.f_score,
        m_score=p.m_score,
        rfm=p.r_score.cast("string").concat(p.f_score.cast("string"), p.m_score.cast("string")),
        cadence_days=p.cadence_days,
        next_purchase_at=next_epoch.round().cast("int64").as_timestamp("s"),
        days_overdue=((as_of_epoch - next_epoch) / DAY).round(4),
        next_purchase_forecast=ibis.greatest(
            next_epoch.round().cast("int64"), as_of_epoch
        ).as_timestamp("s"),
        p_alive=p.p_alive,
        expected_purchases_90d=p.expected_purchases_90d,
        clv_12m=p.clv_12m,
        as_of=ibis.literal(as_of),
    )
    return profile, traits


#: The CLV model of an incremental run is fitted again when the buyers changed by more than
#: this share since the last fit, or when "now" moved this many days (else: its parameters).
CLV_REFIT_SHARE = 0.01
CLV_REFIT_DAYS = 7


def save_clv_model(con: Any, model: dict[str, Any], config: ProfileConfig, as_of: datetime) -> None:
    """Keep a fitted CLV model (``profiles_state``), for :func:`population_columns`."""
    model = {**model, "day": int(as_of.timestamp()) // DAY, "config": config.model_dump_json()}
    state.put(con, "profiles_state", clv_model=json.dumps(model))


def _clv_model(con: Any, config: ProfileConfig, buyers: int, day: int) -> dict[str, Any] | None:
    """The last fitted CLV model, unless a new fit is due."""
    saved = state.get(con, "profiles_state", "clv_model")
    if saved is None:
        return None
    model: dict[str, Any] = json.loads(saved)
    if model.get("config") != config.model_dump_json() or day - model["day"] >= CLV_REFIT_DAYS:
        return None
    if abs(buyers - model["buyers"]) > CLV_REFIT_SHARE * model["buyers"]:
        return None
    return model


def population_columns(eng: Engine, cur: Any, config: ProfileConfig, as_of: datetime) -> str:
    """Recompute in ``profiles``, for everyone, what depends on everyone or on "now".

    An incremental run rebuilds the rows of the people whose events changed; these columns
    still change for all: ``as_of``, recency, the RFM scores (quantiles among all buyers),
    how overdue the next purchase is, and CLV (MBG/NBD and Gamma-Gamma over every buyer).
    They are computed as :func:`build_profiles` computes them, from the columns each row
    keeps (purchase days: ``1 + span / cadence_days``, exact while cadence is rounded to
    4 decimals and a buyer has fewer than 10,000 purchase days), and the table is written
    again (``cur``: the engine's store cursor, for the model's state row).

    The CLV model itself (its parameters, a few seconds to fit on 100,000 buyers) is fitted
    again only when due (:data:`CLV_REFIT_SHARE`, :data:`CLV_REFIT_DAYS`, other settings);
    in between every buyer's ``p_alive``, expected purchases and CLV are predicted with the
    last fit's parameters: those of a population that differs by at most 1% of its buyers
    and a week. Returns ``"refitted"`` or ``"kept"``.
    """
    now = int(as_of.timestamp())
    prof = eng.table("profiles")
    b = prof.filter(prof.orders > 0)
    b = b.select(
        "person_id", "orders", "revenue", "avg_order_value", "cadence_days",
        # whole seconds, floored: DuckDB's epoch has a fraction (a cast rounds it), Spark's not
        last_epoch=b.last_order_at.epoch_seconds().floor().cast("int64"),
        first_day=b.first_order_at.epoch_seconds().floor().cast("int64") // DAY,
        last_day=b.last_order_at.epoch_seconds().floor().cast("int64") // DAY,
    )  # fmt: skip
    b = b.mutate(recency_days=((now - b.last_epoch) / DAY).round(4))
    order_days = ibis.cases(
        (b.cadence_days.isnull(), 1),
        else_=1 + ((b.last_day - b.first_day) / b.cadence_days).round().cast("int64"),
    )
    pop = eng.materialize(rfm_scores(eng.materialize(b.mutate(order_days=order_days), "buyers")),
                          "population")  # fmt: skip
    summary = pop.select(
        "person_id",
        frequency=(pop.order_days - 1).cast("float64"),
        recency=(pop.last_day - pop.first_day).cast("float64"),
        T=(now // DAY - pop.first_day).cast("float64"),
        monetary_value=pop.avg_order_value,
    )
    buyers = int(pop.count().to_pyarrow().as_py())
    model = _clv_model(cur, config, buyers, now // DAY)
    kept = model is not None
    if model is None:
        model = fit_on(eng, fit_sample(summary, config.clv_fit_buyers), config, buyers)
    clv = clv_step(eng, summary, config, model)
    new = pop.select("person_id", n_recency=pop.recency_days, n_r=pop.r_score, n_f=pop.f_score,
                     n_m=pop.m_score, n_next=(pop.last_day + pop.cadence_days) * DAY,
                     n_buyer=ibis.literal(True))  # fmt: skip
    new = new.join(clv.rename(lambda c: c if c == "person_id" else f"n_{c}"), "person_id")
    j = prof.join(new, "person_id", how="left")
    buyer = j.n_buyer.fill_null(False)
    update = {
        "recency_days": j.n_recency,
        "r_score": j.n_r,
        "f_score": j.n_f,
        "m_score": j.n_m,
        "rfm": j.n_r.cast("string").concat(j.n_f.cast("string"), j.n_m.cast("string")),
        "days_overdue": ((now - j.n_next) / DAY).round(4),
        "p_alive": j.n_p_alive,
        "expected_purchases_90d": j.n_expected_purchases_90d,
        "clv_12m": j.n_clv_12m,
    }
    types = prof.schema()
    cols = {c: ibis.cases((buyer, e.cast(types[c])), else_=j[c]) for c, e in update.items()}
    forecast = ibis.greatest(j.n_next.round().cast("int64"), now)  # non-buyers: now
    cols["next_purchase_forecast"] = ibis.cases((buyer, forecast), else_=now).as_timestamp("s").cast(
        types["next_purchase_forecast"])
    cols["as_of"] = ibis.literal(as_of).cast(types["as_of"])
    rows = eng.materialize(j.select(*(cols.get(c, j[c]).name(c) for c in prof.columns)), "profiles")
    eng.write(rows, "profiles")
    for t in (rows, pop):
        eng.drop_temp(t)
    if not kept and model is not None:
        save_clv_model(cur, model, config, as_of)
    return "kept" if kept else "refitted"
