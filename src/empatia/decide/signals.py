"""What the decide stage reads from the store: purchases and each person's state.

It reads other stages' *tables* (``event_persons``, ``profiles``, ``text_analysis``,
``care_list``, ``consent_current``, …) and the event log; each one is optional, so decide runs
on whatever the pipeline has produced so far. Where a stage's table is missing, a small
fallback reads the event log directly (labelled in the code below).

Purchases are read on the stage's engine (:func:`purchase_lines`, :func:`occasions_expr`: Ibis,
the orders' product lines read by :meth:`~empatia.store.engine.Engine.explode_json`); the
person × item × day occasions of the buyers the recommender is fitted on
(:func:`fit_occasions`) go to the engine's fit, where they are. The people's states are made on the same engine: :func:`signals_expr` is
one row per person with every signal (Ibis over the other stages' tables and the event log,
JSON fields through :meth:`~empatia.store.engine.Engine.json_str`; lists where a person has
several rows), and :func:`states_of`, a model step where the rows are, puts each person's dict
together (a text's escalation cues are parsed there); :func:`person_states` collects them for
a caller in this process.
Consent (:func:`consent_rows`) is privacy's view, or before privacy has run the decisions in
the event log (a model step reads them out of the events' JSON); the live API reads it on a
DuckDB engine in the store.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import orjson
import pandas as pd
import pyarrow as pa

from empatia.decide.catalogue import PolicyConfig
from empatia.emotion.lexicon import ESCALATION_KINDS
from empatia.privacy.consent import LEDGER, current_expr, ledger_rows
from empatia.store import Store
from empatia.store.engine import union

if TYPE_CHECKING:
    from empatia.store.engine import Engine

#: A message at least this positive after a hurt means somebody made it right.
KIND_WORD = 0.3

ORDER_EVENT = "Order Completed"
#: Outbound messages that count towards contact fatigue, by event name → channel.
OUTBOUND_EVENTS = {
    "Email Sent": "email", "SMS Sent": "sms", "Push Sent": "push", "Call Made": "call",
    "Offer Sent": None, "Coupon Sent": None, "Survey Sent": None,
}  # fmt: skip
#: Profile channels (tracking plan) → decide's channels.
CHANNEL_MAP = {"web": "web", "app": "app", "store": "store", "email": "email", "chat": "web",
               "call_centre": "call", "sms": "sms", "push": "push"}


def _in(only: Collection[str] | None, column: str = "person_id") -> str:
    """``column in (…)`` for a few people (``true`` for everyone)."""
    if only is None:
        return "true"
    if not only:
        return "false"
    return f"{column} in (" + ", ".join("'" + p.replace("'", "''") + "'" for p in only) + ")"


#: The fields of an order's product line (``properties.products``, a JSON list).
_LINE = pa.schema([("product_id", pa.string()), ("category", pa.string()),
                   ("price", pa.float64()), ("quantity", pa.float64()), ("name", pa.string())])  # fmt: skip


def _text(v: Any) -> str | None:
    """A JSON value as text (as DuckDB's ``from_json`` reads it into a VARCHAR)."""
    if v is None or isinstance(v, str):
        return v
    return orjson.dumps(v).decode()


def purchase_lines(eng: Engine, only: Collection[str] | None = None) -> ir.Table:
    """One row per product line of every ``Order Completed`` (of everyone, or ``only`` these
    people), on the engine: ``seq``, ``pos``, ``person``, ``item``, ``ts``, ``qty``,
    ``category``, ``name``.

    ``qty`` is quantity × price with the price in the reporting currency (the profiles'), at
    the rate of the order's day or the latest before it; a price that cannot be converted
    counts as 1, never as a number in another currency.
    """
    ev = eng.table("events")
    orders = ev.filter((ev.type == "track") & (ev.event == ORDER_EVENT))
    if eng.has("event_persons"):
        ep = eng.table("event_persons")
        if only is not None:
            ep = ep.filter(ep.person_id.isin(list(only)))
        orders = orders.join(ep, orders.seq == ep.seq).select(
            orders.seq, orders.raw, person=ep.person_id, ts=orders["timestamp"])
    else:  # fallback before identity has run
        orders = orders.select("seq", "raw", person=ibis.coalesce(orders.user_id, orders.anonymous_id),
                               ts=orders["timestamp"])  # fmt: skip
    src = orders.select("seq", "person", "ts",
                        cur=eng.json_str(orders.raw, "$.properties.currency").strip().upper(),
                        products=eng.json_str(orders.raw, "$.properties.products"))  # fmt: skip
    lines = eng.explode_json(src, "products", _LINE, "order_lines")
    prof = eng.table("profiles")
    base = eng.to_arrow(prof.aggregate(b=prof.currency.arbitrary())).column("b")[0].as_py() or "EUR"
    rates = eng.table("exchange_rates")
    r = rates.filter(rates.base == base).select(r_cur=rates.currency, r_day=rates.day,
                                                r_rate=rates.rate)  # fmt: skip
    on_day = lines.join(r, [lines.cur == r.r_cur, r.r_day <= lines.ts.date()])
    asof = on_day.group_by(["seq", "pos"]).aggregate(rate=on_day.r_rate.argmax(on_day.r_day))
    lr = lines.left_join(asof, ["seq", "pos"]).select(*lines.columns, rate=asof.rate)
    factor = ibis.cases((lr.cur == base, ibis.literal(1.0)), else_=lr.rate)
    return lr.filter(lr.product_id.notnull() & lr.person.notnull()).select(
        "seq", "pos", "person", item=lr.product_id, ts=lr.ts,
        qty=lr.quantity.fill_null(1.0) * (lr.price / factor).fill_null(1.0),
        category=lr.category, name=ibis.coalesce(lr.name, lr.product_id),
    )  # fmt: skip


def purchases(store: Store, only: Collection[str] | None = None) -> pd.DataFrame:
    """:func:`purchase_lines` of the store, in this process (person, item, ts, qty,
    category, name; by order)."""
    from empatia.store.engine import DuckDBEngine

    with DuckDBEngine(store) as eng:
        lines = purchase_lines(eng, only).order_by(["seq", "pos"]).drop("seq", "pos")
        return eng.to_arrow(lines).to_pandas()


def occasions_expr(eng: Engine, now: datetime, only: Collection[str] | None = None) -> ir.Table:
    """Purchase occasions — one row per person, item and (UTC) day — on the engine: ``qty``
    summed, ``ts`` the last purchase of the day, ``past_ts`` the last one not after ``now``,
    ``first`` the order (and line) of its first purchase."""
    lines = purchase_lines(eng, only)
    return lines.group_by(["person", "item", lines.ts.date().name("day")]).aggregate(
        qty=lines.qty.sum(), ts=lines.ts.max(), past_ts=lines.ts.max(where=lines.ts <= _at(now)),
        category=lines.category.max(), name=lines.name.max(),
        first=(lines.seq * 65536 + lines.pos).min(),
    )  # fmt: skip


def buyers(eng: Engine, now: datetime, occ: ir.Table | None = None) -> int:
    """How many people bought anything (``occ``: :func:`occasions_expr`, made already)."""
    occ = occasions_expr(eng, now) if occ is None else occ
    return eng.count(occ.select("person").distinct())


def fit_occasions(eng: Engine, now: datetime, only: Collection[str] | None = None,
                  sample: int | None = None, occ: ir.Table | None = None) -> ir.Table:
    """The occasions the recommender is fitted on (:func:`occasions_expr`): everyone's, or
    with ``sample`` those of at most that many buyers (the lowest SHA-256 of their person
    id); ``occ``: :func:`occasions_expr`, made already."""
    occ = occasions_expr(eng, now, only) if occ is None else occ
    if sample is not None:
        buyers = occ.select("person").distinct()
        keep = buyers.order_by([buyers.person.hexdigest("sha256"), "person"]).limit(sample)
        occ = occ.semi_join(keep, "person")
    return occ


def occasions_frame(rows: pa.Table) -> pd.DataFrame:
    """Occasions (:func:`fit_occasions`'s rows) as the recommender reads them, in the order
    of their first purchase (``first`` is unique), so the model's rows are the same on
    every engine, whatever order the rows came in."""
    frame = rows.to_pandas().sort_values("first", kind="stable", ignore_index=True)
    for col in ("ts", "past_ts"):  # Spark's come without their zone: UTC, the session's
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame[["person", "item", "ts", "qty", "category", "name", "past_ts"]]


def _utc(t: Any) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t


def _at(t: Any) -> ir.TimestampScalar:
    """A moment as a UTC timestamp literal (a naive one is UTC)."""
    return ibis.literal(_utc(t).tz_convert("UTC"), type="timestamp('UTC')")


def _threats(escalation: str | None) -> list[str] | None:
    """The escalation cues of a text that are threats (``$[*].cue``, in their order)."""
    if escalation is None:
        return None
    try:
        doc = orjson.loads(escalation)
    except orjson.JSONDecodeError:
        return None
    cues = (_text(x.get("cue")) if isinstance(x, dict) else None
            for x in (doc if isinstance(doc, list) else []))  # fmt: skip
    return [c for c in cues if c in ESCALATION_KINDS]


#: The other stages' tables decide reads when they are there.
_OPTIONAL = ("profiles", "event_persons", "text_analysis", "experience_journeys",
             "care_list", "decision_log", "consent_current",
             "identities")  # fmt: skip


def _store_tables(eng: Engine) -> set[str]:
    """Which of the other stages' tables the store has (each one is optional)."""
    return {t for t in _OPTIONAL if eng.has(t)}


def clock(eng: Engine) -> tuple[datetime, int]:
    """'Now' for a batch — the latest event, so a replayed or demo world decides at its end
    (the wall clock while there is none) — and the newest event's ``seq`` (0: none)."""
    ev = eng.table("events")
    row = eng.to_arrow(ev.aggregate(ts=ev["timestamp"].max(), seq=ev.seq.max())).to_pylist()[0]
    now = _utc(row["ts"]).to_pydatetime() if row["ts"] is not None else datetime.now(UTC)
    return now, int(row["seq"] or 0)


def _people(eng: Engine, tables: set[str], only: Collection[str] | None = None,
            occ: ir.Table | None = None) -> ir.Table:
    """Everyone (``person_id``): the profiled people, the people of events and the buyers of
    ``occ`` — or just ``only``."""
    if only is not None:
        return eng.from_arrow(pa.table({"person_id": pa.array(sorted(only), pa.string())}),
                              "decide_only")  # fmt: skip
    parts = [t.select(person_id=t.person_id) for name in ("profiles", "event_persons")
             if name in tables for t in (eng.table(name),)]  # fmt: skip
    if occ is not None:
        parts.append(occ.select(person_id=occ.person))
    if not parts:
        return eng.from_arrow(pa.table({"person_id": pa.array([], pa.string())}), "decide_only")
    people = union(*parts, distinct=True)
    return people.filter(people.person_id.notnull())


def _rows(eng: Engine, expr: ir.Table, by: list[str]) -> list[dict[str, Any]]:
    """``expr``'s rows on the driver, in ``by`` order; timestamps in UTC (Spark's come
    without their zone: UTC, the session's)."""
    data = eng.to_arrow(expr.order_by(by))
    for i, f in enumerate(data.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            data = data.set_column(i, f.name, data.column(i).cast(pa.timestamp(f.type.unit, "UTC")))
    return data.to_pylist()  # type: ignore[no-any-return]


def _person_events(eng: Engine, tables: set[str], only: Collection[str] | None = None) -> ir.Table:
    """The event log with each event's ``person``: identity's ``event_persons`` (``only``:
    just these people's events), else the user/anonymous id (fallback before identity has
    run)."""
    ev = eng.table("events")
    cols = ("seq", "type", "event", "timestamp", "received_at", "raw")
    if "event_persons" in tables:
        ep = eng.table("event_persons")
        if only is not None:
            ep = ep.filter(ep.person_id.isin(list(only)))
        return ev.join(ep, ev.seq == ep.seq).select(*(ev[c] for c in cols), person=ep.person_id)
    return ev.select(*cols, person=ibis.coalesce(ev.user_id, ev.anonymous_id))


def consent_rows(eng: Engine, person_id: str | None = None, after_seq: int | None = None,
                 only: Collection[str] | None = None) -> ir.Table:
    """Each person's consent per purpose (``person_id``, ``purpose``, ``granted``), on the
    engine: privacy's ``consent_current`` view once the privacy stage has filled its ledger;
    before that (adapter) the decisions in the event log — ``Consent Updated`` events and
    ``context.consent`` — where a grant holds only when it is the latest decision both by
    arrival (seq) and by when it was made (clamped to arrival), privacy's rule."""
    tables = _store_tables(eng)
    if "consent_current" in tables and _filled(eng):  # privacy has filled its ledger
        c = current_expr(eng.table, identity={"event_persons", "identities"} <= tables)
        if person_id:
            c = c.filter(c.person_id == person_id)
        elif only is not None:
            c = c.filter(c.person_id.isin(list(only)))
        return c.select("person_id", "purpose", "granted")
    e = _person_events(eng, tables, only)
    if person_id:
        e = e.filter(e.person == person_id)
    if after_seq is not None:
        e = e.filter(e.seq > after_seq)
    updated = (e.type == "track") & (e.event == "Consent Updated")
    e = e.filter(updated | eng.json_str(e.raw, "$.context.consent").notnull())
    # privacy's own reader of consent in events (purposes as privacy names them); the
    # event's person rides in its user_id
    src = e.select("seq", "event", "raw", user_id=e.person,
                   anonymous_id=ibis.null().cast("string"), recorded_at=e.received_at,
                   decided_at=ibis.least(e["timestamp"], e.received_at))  # fmt: skip
    found = eng.map_batches(src, ledger_rows, LEDGER, "consent_decisions")
    d = found.select("seq", "purpose", "granted", person_id=found.user_id, ts=found.decided_at)
    keys = ["person_id", "purpose"]
    last = d.group_by(keys).aggregate(by_seq=d.granted.argmax(d.seq), at=d.ts.max())
    joined = d.join(last, keys)
    latest = joined.filter(joined.ts == joined.at)
    made = latest.group_by(keys).aggregate(by_time=latest.granted.argmax(latest.seq))
    both = last.join(made, keys)
    return both.select(*keys, granted=both.by_seq & both.by_time)


def consents(store: Store, person_id: str | None = None, after_seq: int | None = None,
             only: Collection[str] | None = None, eng: Engine | None = None
             ) -> dict[str, dict[str, bool]]:
    """person → purpose → granted (:func:`consent_rows`), read on ``eng`` (default: DuckDB
    in the store), by person and purpose."""
    if eng is None:
        from empatia.store.engine import DuckDBEngine

        with DuckDBEngine(store) as own:
            return consents(store, person_id, after_seq, only, eng=own)
    out: dict[str, dict[str, bool]] = {}
    if only is not None and not only:
        return out
    for r in _rows(eng, consent_rows(eng, person_id, after_seq, only), ["person_id", "purpose"]):
        out.setdefault(r["person_id"], {})[r["purpose"]] = bool(r["granted"])
    return out


#: How each person's signals reach the state step (:func:`states_of`): one row per person.
_TEXT = ("seq", "ts", "anger", "frustration", "score", "escalation")


@dataclass
class _Reader:
    """The other stages' tables, read for :func:`signals_expr`: each signal an Ibis
    expression with one row per person (``person_id``), lists where a person has several."""

    eng: Engine
    now: datetime
    policy: PolicyConfig
    only: Collection[str] | None

    def __post_init__(self) -> None:
        self.tables = _store_tables(self.eng)
        self.now_ts = _utc(self.now)

    def window(self, ts: ir.TimestampValue, days: float) -> ir.BooleanValue:
        """``ts`` in the last ``days`` before now (both ends included)."""
        return (ts >= _at(self.now_ts - pd.Timedelta(days=days))) & (ts <= _at(self.now_ts))

    def mine(self, name: str) -> ir.Table:
        """A table of per-person rows (``person_id``): everyone's, or just ``only``'s."""
        t = self.eng.table(name)
        return t if self.only is None else t.filter(t.person_id.isin(list(self.only)))

    def events(self) -> ir.Table:
        """The event log with each event's ``person``: identity's ``event_persons``, else
        the user/anonymous id (fallback before identity has run)."""
        return _person_events(self.eng, self.tables, self.only)

    def consents(self) -> ir.Table:
        c = consent_rows(self.eng, only=self.only)
        return c.group_by("person_id").aggregate(
            consents=ibis.struct({"purpose": c.purpose, "granted": c.granted}).collect())

    def profiles(self) -> ir.Table | None:
        if "profiles" not in self.tables:
            return None
        p = self.mine("profiles")
        clv = p.clv_12m if "clv_12m" in p.columns else ibis.null().cast("float64")
        return p.select("person_id", ch=p.preferred_channel, clv=clv.cast("float64"),
                        profiled=ibis.literal(True))

    def words(self) -> ir.Table | None:
        """Texts in the mood window or the hurt window."""
        if "text_analysis" not in self.tables:
            return None
        policy = self.policy
        a, ev = self.eng.table("text_analysis"), self.events()
        a = a.filter(self.window(a["timestamp"], max(policy.hurt_days, policy.mood_days)))
        t = a.join(ev, a.seq == ev.seq).select(
            person_id=ev.person, seq=a.seq, ts=a["timestamp"], anger=a.anger.cast("float64"),
            frustration=a.frustration.cast("float64"), score=a.score.cast("float64"),
            escalation=a.escalation.cast("string"))  # fmt: skip
        return t.group_by("person_id").aggregate(
            texts=ibis.struct({k: t[k] for k in _TEXT}).collect())

    def hurt_cases(self) -> ir.Table | None:
        """Resolved cases that hurt (experience's verdict): the latest within hurt_days."""
        if "experience_journeys" not in self.tables:
            return None
        j = self.mine("experience_journeys")
        j = j.filter(j.succeeded_but_hurt & self.window(j.last_at, self.policy.hurt_days))
        return j.group_by("person_id").aggregate(
            case_at=j.last_at.max(),
            case_why=ibis.coalesce(j.hurt_reasons, "high effort").argmax(j.last_at))

    def unresolved(self) -> ir.Table:
        """Unresolved service journeys: experience's table when present, else the event log."""
        eng = self.eng
        if "experience_journeys" in self.tables and \
                eng.to_arrow(eng.table("experience_journeys").limit(1).count()).as_py():  # fmt: skip
            # the journey_unresolved view's rows, from its table where the engine keeps it
            # (on Spark a view of the store's file would come through the driver)
            u = self.mine("experience_journeys")
            u = u.filter(~u.resolved.fill_null(False) & (u.unresolved_age_days.fill_null(0) <= 60))
        else:
            e = self.events()
            c = e.filter((e.type == "track") & e.event.isin(["Case Opened", "Case Resolved"])
                         & self.window(e["timestamp"], 60))  # fmt: skip
            c = c.select(person_id=c.person, event=c.event,
                         case_id=eng.json_str(c.raw, "$.properties.case_id"),
                         topic=eng.json_str(c.raw, "$.properties.topic"))  # fmt: skip
            c = c.filter(c.case_id.notnull())
            cases = c.group_by(["person_id", "case_id"]).aggregate(
                topic=c.topic.arbitrary(), resolved=(c.event == "Case Resolved").any())
            u = cases.filter(~cases.resolved)
        return u.group_by("person_id").aggregate(open_n=u.count(), open_topic=u.topic.min())

    def care(self) -> ir.Table | None:
        if "care_list" not in self.tables:
            return None
        c = self.mine("care_list")
        return c.group_by("person_id").aggregate(care_why=c.explanation.min(),
                                                 cared=c.count() > 0)

    def outbound(self) -> list[ir.Table]:
        """Contacts in the fatigue window (events and delivered decisions); surveys sent."""
        eng, policy = self.eng, self.policy
        e = self.events()
        out = e.filter((e.type == "track") & e.event.isin(list(OUTBOUND_EVENTS))
                       & self.window(e["timestamp"], policy.fatigue_days))  # fmt: skip
        ch = ibis.coalesce(eng.json_str(out.raw, "$.properties.channel"),
                           eng.json_str(out.raw, "$.context.channel"))  # fmt: skip
        out = out.group_by([out.person, out.event, ch.name("ch")]).aggregate(n=out.count())
        parts = [out.group_by(person_id=out.person).aggregate(
            sent=ibis.struct({"event": out.event, "ch": out.ch, "n": out.n}).collect())]
        if "decision_log" in self.tables:
            d = self.mine("decision_log")
            d = d.filter(d.delivered & self.window(d.decided_at, policy.fatigue_days)
                         & d.channel.notnull())  # fmt: skip
            d = d.group_by(["person_id", "channel"]).aggregate(n=d.count())
            parts.append(d.group_by("person_id").aggregate(
                delivered=ibis.struct({"channel": d.channel, "n": d.n}).collect()))
        s = e.filter((e.type == "track") & (e.event == "Survey Sent")
                     & self.window(e["timestamp"], policy.survey_gap_days))  # fmt: skip
        parts.append(s.select(person_id=s.person).distinct().mutate(surveyed=ibis.literal(True)))
        return parts

    def purchases(self, occ: ir.Table) -> ir.Table:
        """Each buyer's last purchase (``last_buy``), last one not after now (``past_buy``)
        and the items bought not after now in the suppression window (``recent``)."""
        at = _at(self.now_ts)
        past = occ.filter(occ.past_ts.notnull() & (occ.past_ts <= at))
        since = _at(self.now_ts - pd.Timedelta(days=self.policy.suppress_same_item_days))
        r = past.filter(past.past_ts >= since)
        r = r.group_by(["person", "item"]).aggregate(ts=r.past_ts.max())
        last = occ.group_by(person_id=occ.person).aggregate(last_buy=occ.ts.max())
        before = past.group_by(pid=past.person).aggregate(past_buy=past.past_ts.max())
        items = r.group_by(pid=r.person).aggregate(
            recent=ibis.struct({"item": r.item, "ts": r.ts}).collect())
        out = last.left_join(before, last.person_id == before.pid).drop("pid")
        return out.left_join(items, out.person_id == items.pid).drop("pid")


def signals_expr(eng: Engine, now: datetime, policy: PolicyConfig,
                 only: Collection[str] | None = None, *, history: bool = False,
                 occ: ir.Table | None = None) -> ir.Table:
    """One row per person (everyone, or ``only``) with every signal their state is made of,
    read on the engine (lists where a person has several rows): what :func:`states_of`
    turns into states, where the rows are; with ``history``, also their purchase occasions
    (``history``: ``item``, ``ts``, ``qty``), what the recommender scores them from
    (``occ``: everyone's :func:`occasions_expr`, made already)."""
    r = _Reader(eng, now, policy, only)
    occ = occasions_expr(eng, now, only) if occ is None else occ
    out = _people(eng, r.tables, only, occ)
    parts = [r.consents(), r.profiles(), r.words(), r.hurt_cases(), r.unresolved(), r.care(),
             *r.outbound(), r.purchases(occ)]  # fmt: skip
    if history:
        parts.append(occ.group_by(person_id=occ.person).aggregate(
            history=ibis.struct({"item": occ.item, "ts": occ.ts, "qty": occ.qty}).collect()))
    for part in parts:
        if part is not None:
            part = part.rename(pid="person_id")
            out = out.left_join(part, out.person_id == part.pid).drop("pid")
    return out


#: The rows of :func:`state_step`: each person's state as JSON.
STATES = pa.schema([("person_id", pa.string()), ("state", pa.string())])


def states_of(rows: list[dict[str, Any]], now: datetime, policy: PolicyConfig
              ) -> list[dict[str, Any]]:  # fmt: skip
    """Each person's policy inputs (see :class:`~empatia.decide.policy.PersonState`) from
    their row of :func:`signals_expr` — pure, row by row: on Spark it runs on the executors."""
    now_ts = _utc(now)
    return [_state(r, now_ts, policy) for r in rows]


def _state(r: dict[str, Any], now_ts: pd.Timestamp, policy: PolicyConfig) -> dict[str, Any]:
    st: dict[str, Any] = {"person_id": r["person_id"]}
    if r.get("consents"):
        st["consents"] = {c["purpose"]: bool(c["granted"])
                          for c in sorted(r["consents"], key=lambda c: c["purpose"])}  # fmt: skip
    if r.get("profiled"):
        st.update(preferred_channel=CHANNEL_MAP.get(r["ch"] or ""), clv=r["clv"])
    texts = sorted(({**t, "ts": _utc(t["ts"])} for t in r.get("texts") or ()),
                   key=lambda t: (t["ts"], t["seq"]))  # fmt: skip
    for t in texts:
        t["threats"] = _threats(t.pop("escalation"))
    old_hurt = _mood(st, texts, now_ts - pd.Timedelta(days=policy.mood_days), policy)
    if r.get("open_n"):
        st.update(unresolved_cases=int(r["open_n"]), unresolved_topic=r["open_topic"])
    if r.get("cared"):
        st.update(special_care=True, care_reason=r["care_why"])
    _contacts(st, r)
    if r.get("past_buy") is not None:
        st["hours_since_purchase"] = (now_ts - _utc(r["past_buy"])).total_seconds() / 3600
    if r.get("recent"):
        st["recent_items"] = {str(x["item"]): (now_ts - _utc(x["ts"])).total_seconds() / 86400
                              for x in sorted(r["recent"], key=lambda x: str(x["item"]))}  # fmt: skip
    _hurts(st, r, old_hurt, now_ts)
    return st


def _contacts(st: dict[str, Any], r: dict[str, Any]) -> None:
    """Contacts in the fatigue window by channel (events, delivered decisions); surveys."""
    contacts: dict[str, int] = {}
    for c in sorted(r.get("sent") or (), key=lambda c: (c["event"], c["ch"] or "")):
        channel = OUTBOUND_EVENTS.get(c["event"]) or CHANNEL_MAP.get(c["ch"] or "", "email")
        contacts[channel] = contacts.get(channel, 0) + int(c["n"])
        if c["event"] == "Survey Sent":
            st["may_survey"] = False
    for c in sorted(r.get("delivered") or (), key=lambda c: c["channel"]):
        contacts[c["channel"]] = contacts.get(c["channel"], 0) + int(c["n"])
    if contacts:
        st["contacts"] = contacts
    if r.get("surveyed"):
        st["may_survey"] = False


def _hurts(st: dict[str, Any], r: dict[str, Any], old_hurt: dict[str, Any] | None,
           now_ts: pd.Timestamp) -> None:  # fmt: skip
    """An old hurt, and a case that hurt, count while no purchase came after them."""
    last_buy = _utc(r["last_buy"]) if r.get("last_buy") is not None else None

    def made_right(at: pd.Timestamp) -> bool:
        return last_buy is not None and at < last_buy <= now_ts  # they bought again after it

    if old_hurt is not None and not made_right(old_hurt["ts"]):
        hurt = old_hurt
        st["anger"] = max(st.get("anger") or 0, hurt["anger"] or 0) or None
        st["frustration"] = max(st.get("frustration") or 0, hurt["frustration"] or 0) or None
        if st.get("sentiment") is None or (hurt["score"] or 0) < st["sentiment"]:
            st["sentiment"] = hurt["score"]
        st["threats"] = sorted({*st.get("threats", []), *(hurt["threats"] or [])})
        st["hurt_days_ago"] = round((now_ts - hurt["ts"]).total_seconds() / 86400, 1)
    if r.get("case_at") is not None and not made_right(_utc(r["case_at"])):
        st.update(hurt_case=r["case_why"],
                  hurt_case_days_ago=round((now_ts - _utc(r["case_at"])).total_seconds() / 86400, 1))


def _mood(st: dict[str, Any], rows: list[dict[str, Any]], since: pd.Timestamp,
          policy: PolicyConfig) -> dict[str, Any] | None:
    """One person's texts (by time): their mood in the window (into ``st``), and the latest
    hurt if it is older than the window and no kind word came after it."""
    recent = [r for r in rows if r["ts"] >= since]
    anger = max((r["anger"] for r in recent if r["anger"] is not None), default=None)
    scored = [r["score"] for r in recent if r["score"] is not None]
    if anger is not None or scored:  # texts in the mood window
        frustration = max((r["frustration"] for r in recent if r["frustration"] is not None),
                          default=None)  # fmt: skip
        st.update(anger=anger, frustration=frustration, sentiment=scored[-1] if scored else None,
                  threats=sorted({c for r in recent for c in r["threats"] or []}))  # fmt: skip
    angry, negative = policy.angry_threshold, policy.negative_threshold
    hurts = [r for r in rows if (r["anger"] or 0) >= angry or (r["frustration"] or 0) >= angry
             or (r["score"] or 0) <= negative or r["threats"]]  # fmt: skip
    if not hurts or hurts[-1]["ts"] >= since:
        return None
    hurt = hurts[-1]
    if any(r["score"] is not None and r["score"] >= KIND_WORD and r["ts"] > hurt["ts"]
           for r in rows):  # somebody made it right since
        return None
    return {k: hurt[k] for k in ("ts", "anger", "frustration", "score", "threats")}


def state_step(now: datetime, policy: PolicyConfig, batch: pa.RecordBatch) -> pa.Table:
    """The engine's model step: rows of :func:`signals_expr` → :data:`STATES`."""
    states = states_of(batch.to_pylist(), now, policy)
    return pa.table({"person_id": [s["person_id"] for s in states],
                     "state": [orjson.dumps(s).decode() for s in states]}, schema=STATES)


def state_rows(eng: Engine, now: datetime, policy: PolicyConfig,
               only: Collection[str] | None = None) -> ir.Table:
    """Each person's state (``person_id``, ``state`` as JSON), made where the rows are."""
    return eng.map_batches(signals_expr(eng, now, policy, only), partial(state_step, now, policy),
                           STATES, "decide_states")  # fmt: skip


def person_states(store: Store, now: datetime, policy: PolicyConfig,
                  only: Collection[str] | None = None, eng: Engine | None = None
                  ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Every person's policy inputs as plain dicts, in this process (see
    :class:`~empatia.decide.policy.PersonState`); with ``only``, just these people's (a run
    after a few new events). Read on ``eng`` (default: DuckDB in the store)."""
    if eng is None:
        from empatia.store.engine import DuckDBEngine

        with DuckDBEngine(store) as own:
            return person_states(store, now, policy, only, eng=own)
    if only is not None and not only:
        return {}
    rows = eng.to_arrow(state_rows(eng, now, policy, only).order_by("person_id"))
    return {p: orjson.loads(s) for p, s in zip(rows.column("person_id").to_pylist(),
                                               rows.column("state").to_pylist(), strict=True)}


def current_consents(store: Store, person_id: str, known: dict[str, bool] | None = None,
                     after_seq: int | None = None) -> dict[str, bool]:
    """Consent per purpose for one person, read now (a withdrawal counts at once): privacy's
    shared ``consent.current`` when its ledger is filled, else ``known`` (the training
    snapshot) updated by consent events after ``after_seq``."""
    from empatia.privacy import consent  # part of the package: no fallback that allows

    if _ledger_filled(store):
        return {p: bool(st.granted) for p, st in consent.current(store, person_id).items()}
    if after_seq is None or known is None:
        return consents(store, person_id).get(person_id, {})
    return {**known, **consents(store, person_id, after_seq).get(person_id, {})}


def _filled(eng: Engine) -> bool:
    """Whether consent has been recorded (through the API, or read from events by privacy)."""
    return any(eng.has(t) and eng.count(eng.table(t).limit(1))
               for t in ("consent_events", "consent_ledger"))  # fmt: skip


def _ledger_filled(store: Store) -> bool:
    from empatia.store.engine import DuckDBEngine

    with DuckDBEngine(store) as eng:
        return _filled(eng)
