"""What special care reads from the store, as small per-person frames.

Inputs are other stages' *tables*, never their code: ``event_persons`` (identity),
``profiles`` / ``profile_traits`` (profiles), ``text_analysis`` (emotion) and, for service
journeys, ``experience_journeys`` (experience) when it is there, else the ``Case Opened`` /
``Support Contact`` / ``Case Resolved`` events of the tracking plan. Only the recent window
(``risk.window_days`` before "now") is read for risk, so the work stays small at any size.
"now" is the latest event of the last day with normal traffic (:func:`as_of`): a re-run over the
same events gives the same list.

Every input is an Ibis expression on the stage's :class:`~empatia.store.engine.Engine`, so it
is computed where the engine runs (in the store on DuckDB, in the session on Spark).
:func:`people_expr` packs what scoring reads about each person at risk into one row, for the
scoring step (:mod:`empatia.care.step`); :func:`read_inputs` collects the same inputs to the
driver as pandas frames (benchmarks measuring single rules against the list).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis import _

from empatia.store.changes import CHANGED, changed_persons, save_marks
from empatia.store.engine import DuckDBEngine, Engine, union

#: Traits of the tracking plan that speak to influence.
INFLUENCE_TRAITS = ("profession", "followers", "followers_by_network", "press", "vip", "tier",
                    "referrals")  # fmt: skip
#: Words one of the influence traits' keys contains (events without any are not read).
_TRAIT_WORDS = ("ollowers", '"press"', '"vip"', '"profession"', '"referrals"', '"tier"')


@dataclass
class Inputs:
    """Everything scoring needs; each frame has a ``person_id`` column."""

    as_of: datetime
    texts: pd.DataFrame  # recent text touchpoints with their analysis
    journeys: pd.DataFrame  # service journeys active in the window
    reviews: pd.DataFrame  # per person: public reviews (all time), bad public ones (window)
    traits: pd.DataFrame  # per person: the influence traits
    values: pd.DataFrame  # per person: clv_12m, revenue


@contextmanager
def engine_of(source: Engine | Any) -> Iterator[Engine]:
    """``source`` when it is an engine; else a DuckDB engine on that store connection (or a
    stage's store), closed after the block."""
    if isinstance(source, Engine):
        yield source
        return
    with DuckDBEngine(source) as eng:
        yield eng


def utc(data: pa.Table) -> pa.Table:
    """Every timestamp column in UTC (Spark's come back without a zone)."""
    cols = []
    for field, col in zip(data.schema, data.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            col = col.cast(pa.timestamp("us", tz=field.type.tz or "UTC")).cast(
                pa.timestamp("us", tz="UTC")
            )
        cols.append(col)
    return pa.Table.from_arrays(cols, names=data.column_names)


def collect(eng: Engine, expr: ir.Table) -> pd.DataFrame:
    """The rows of ``expr`` on the driver, as a pandas frame (timestamps in UTC)."""
    return utc(eng.to_arrow(expr)).to_pandas()


def scalar(eng: Engine, expr: ir.Scalar) -> Any:
    value = eng.to_arrow(expr.as_table()).column(0)[0].as_py()
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def as_of(source: Engine | Any, min_share: float = 0.1) -> datetime | None:
    """ "Now": the latest event of the last day with normal traffic (more than ``min_share`` of
    the median day's events). A few stray late or future-dated events (a device with a wrong clock, a
    case logged weeks after the rest) would otherwise age every signal by weeks."""
    with engine_of(source) as eng:
        ev = eng.table("events")
        days = ev.group_by(day=ev.timestamp.truncate("D")).aggregate(
            n=_.count(), last=_.timestamp.max()
        )
        normal = days.filter(days.n > min_share * days.n.median())
        return scalar(eng, normal["last"].max())  # type: ignore[no-any-return]


#: A text touchpoint's columns (all but ``person_id``).
TEXT_FIELDS = ("seq", "at", "event", "channel", "language", "sentiment", "score", "anger",
               "frustration", "dominant_emotion", "escalation", "effort")  # fmt: skip


def texts_expr(eng: Engine, since: datetime) -> ir.Table:
    """Text touchpoints since ``since`` with their analysis (emotion) and their person."""
    a = eng.table("text_analysis")
    a = a.filter(a.timestamp >= since)
    t = a.join(eng.table("event_persons").select("seq", "person_id"), "seq")
    return t.select(
        "person_id", "seq", at=t.timestamp, event=t.event, channel=t.channel,
        language=t.language, sentiment=t.sentiment, score=t.score, anger=t.anger,
        frustration=t.frustration, dominant_emotion=t.dominant_emotion,
        escalation=t.escalation.cast("string"), effort=t.effort.cast("string"),
    )  # fmt: skip


def reviews_expr(eng: Engine, since: datetime) -> ir.Table:
    """Per reviewer: public reviews (all time), bad public ones since ``since``, the latest of
    those and the worst recent public rating."""
    ev = eng.table("events")
    ev = ev.filter((ev.type == "track") & (ev.event == "Review Submitted"))
    js = partial(eng.json_str, ev.raw)
    r = ev.select(
        "seq",
        ts=ev.timestamp,
        public=ibis.coalesce(js("$.properties.public").try_cast("boolean"), False),
        rating=js("$.properties.rating").try_cast("float64"),
    )
    r = r.join(eng.table("event_persons").select("seq", "person_id"), "seq")
    recent = r.public & (r.ts >= since)
    bad = recent & (r.rating <= 2)
    return r.group_by("person_id").aggregate(
        public_reviews=r.count(where=r.public),
        bad_public_reviews=r.count(where=bad),
        last_bad_review_at=r.ts.max(where=bad),
        worst_recent_rating=r.rating.min(where=recent),
    )


_JOURNEY_COLUMNS = ("person_id", "case_id", "contacts", "first_at", "last_at", "resolved", "topic",
                    "last_seq", "internal_success", "resolution", "wait_seconds", "transfers",
                    "channels", "channel_switches", "succeeded_but_hurt", "hurt_reasons")  # fmt: skip


#: A journey's columns (all but ``person_id``).
JOURNEY_FIELDS = _JOURNEY_COLUMNS[1:]


def journeys_expr(eng: Engine, since: datetime) -> ir.Table:
    """Service journeys active since ``since``, as the experience stage measured them."""
    j = eng.table("experience_journeys")
    return j.filter(j.last_at >= since).select(*_JOURNEY_COLUMNS)


def event_traits(eng: Engine, persons: ir.Table | None = None) -> ir.Table:
    """``care_traits``: per person, the latest value of each influence trait their events
    carry (``traits``, else ``context.traits``), for ``persons`` only when given."""
    ev = eng.table("events").select("seq", "raw")
    words = ibis.or_(*(ev.raw.contains(w) for w in _TRAIT_WORDS))
    ev = ev.filter(ev.raw.contains("traits") & words)
    ep = eng.table("event_persons").select("seq", "person_id")
    if persons is not None:
        ep = ep.semi_join(persons, "person_id")
    e = ev.join(ep, "seq")
    # the traits object once (``traits``, else ``context.traits``), then each trait in it
    tr = ibis.coalesce(eng.json_str(e.raw, "$.traits"), eng.json_str(e.raw, "$.context.traits"))
    e = e.select("person_id", "seq", tr=tr).filter(_.tr.notnull())
    latest = {}
    for trait in INFLUENCE_TRAITS:
        value = eng.json_str(e.tr, f"$.{trait}")
        if trait == "followers_by_network":  # an object (JSON text), nothing else
            value = ibis.cases((value.startswith("{"), value), else_=ibis.null("string"))
        latest[trait] = value.argmax(e.seq, where=value.notnull())
    return e.group_by("person_id").aggregate(**latest)


def refresh_traits(source: Engine | Any, *, full: bool = False) -> dict[str, Any]:
    """Keep ``care_traits`` (the influence traits of each person's events): only the people
    whose events changed since the last refresh (:mod:`empatia.store.changes`), or everyone
    with ``full`` (and after an erasure, and on an engine that rebuilds whole tables)."""
    with engine_of(source) as eng, eng.store_cursor() as cur:
        changes = changed_persons(cur, "care", "traits", full=full,
                                  incremental=eng.incremental)  # fmt: skip
        if changes.full:
            eng.write(event_traits(eng), "care_traits")
        elif changes.persons:
            eng.write(event_traits(eng, eng.table(CHANGED)), "care_traits",
                      where=f"person_id in (select person_id from {CHANGED})")  # fmt: skip
        save_marks(cur, changes)
    if changes.full:
        return {"traits": "full" if changes.full == "full" else f"full ({changes.full})"}
    return {"traits": "incremental", "traits_recomputed": len(changes.persons)}


def traits_expr(eng: Engine) -> ir.Table:
    """Influence traits per person: from events (``care_traits``, see :func:`refresh_traits`),
    with ``profile_traits`` winning where it has one."""
    ct = eng.table("care_traits").select("person_id", *INFLUENCE_TRAITS)
    names = [t for t in INFLUENCE_TRAITS if t != "followers_by_network"]
    pt = eng.table("profile_traits")
    pt = pt.filter(pt.trait.isin(names))
    wide = pt.group_by("person_id").aggregate(
        **{f"{t}_profile": pt.value.max(where=pt.trait == t) for t in names}
    )
    j = ct.outer_join(wide, ct.person_id == wide.person_id, rname="{name}_p")
    return j.select(
        person_id=ibis.coalesce(j.person_id, j.person_id_p),
        **{t: ibis.coalesce(j[f"{t}_profile"], j[t]) if t in names else j[t]
           for t in INFLUENCE_TRAITS},
    )  # fmt: skip


def values_expr(eng: Engine) -> ir.Table:
    return eng.table("profiles").select("person_id", "clv_12m", "revenue")


def since_of(
    eng: Engine, window_days: float, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """ "Now" (given, else :func:`as_of`, else the clock) and the window's start before it."""
    now = now or as_of(eng) or datetime.now().astimezone()
    return now, now - timedelta(days=window_days)


def people_expr(eng: Engine, since: datetime) -> ir.Table:
    """One row per person with a risk signal since ``since`` (a text, a journey or a bad
    public review): their texts and their journeys (lists of structs), their reviews, their
    influence traits and their value (columns) — everything scoring reads about them."""
    texts, journeys, reviews = texts_expr(eng, since), journeys_expr(eng, since), reviews_expr(eng, since)
    people = union(
        texts.select("person_id"),
        journeys.select("person_id"),
        reviews.filter(reviews.bad_public_reviews > 0).select("person_id"),
        distinct=True,
    )
    parts = [
        texts.group_by("person_id").aggregate(
            texts=ibis.struct({f: texts[f] for f in TEXT_FIELDS}).collect()
        ),
        journeys.group_by("person_id").aggregate(
            journeys=ibis.struct({f: journeys[f] for f in JOURNEY_FIELDS}).collect()
        ),
        reviews,
        traits_expr(eng),
        values_expr(eng),
    ]
    out = people
    for i, part in enumerate(parts):
        part = part.rename({f"_pid{i}": "person_id"})
        out = out.left_join(part, out.person_id == part[f"_pid{i}"])
        out = out.drop(f"_pid{i}")
    return out


def read_inputs(source: Engine | Any, window_days: float, now: datetime | None = None) -> Inputs:
    """Every input as pandas frames on the driver (the stage itself scores on the engine,
    :func:`people_expr`): the recent window's texts, journeys and reviews, and everyone's
    traits and values — to measure rules such as "influence alone" against the list."""
    with engine_of(source) as eng:
        now, since = since_of(eng, window_days, now)
        return Inputs(
            now,
            collect(eng, texts_expr(eng, since).order_by("seq")),
            collect(eng, journeys_expr(eng, since).order_by("person_id", "case_id")),
            collect(eng, reviews_expr(eng, since).order_by("person_id")),
            collect(eng, traits_expr(eng).order_by("person_id")),
            collect(eng, values_expr(eng).order_by("person_id")),
        )
