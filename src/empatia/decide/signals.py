"""What the decide stage reads from the store: purchases and each person's state.

It reads other stages' *tables* (``event_persons``, ``profiles``, ``text_analysis``,
``care_list``, ``consent_current``, …) and the event log; each one is optional, so decide runs
on whatever the pipeline has produced so far. Where a stage's table is missing, a small
fallback reads the event log directly (labelled in the code below).

Purchases are read on the stage's engine (:func:`purchase_lines`, :func:`occasions`: Ibis, the
orders' product lines a model step), and only their person × item × day occasions are
collected for fitting. The people's states (:func:`person_states`) are still small per-person
reads in DuckDB SQL on the store (JSON paths, list filters), gathered on the driver.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.types as ir
import orjson
import pandas as pd
import pyarrow as pa

from empatia.decide.catalogue import PolicyConfig
from empatia.emotion.lexicon import ESCALATION_KINDS
from empatia.store import Store

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
PURPOSES = ("personalisation", "marketing_email", "marketing_sms", "marketing_push",
            "partner_sharing", "profiling")
#: Profile channels (tracking plan) → decide's channels.
CHANNEL_MAP = {"web": "web", "app": "app", "store": "store", "email": "email", "chat": "web",
               "call_centre": "call", "sms": "sms", "push": "push"}


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def _has_rows(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    if not _exists(con, name):
        return False
    return bool(con.execute(f"select exists(select 1 from {name})").fetchone()[0])  # type: ignore[index]


def _in(only: Collection[str] | None, column: str = "person_id") -> str:
    """``column in (…)`` for a few people (``true`` for everyone)."""
    if only is None:
        return "true"
    if not only:
        return "false"
    return f"{column} in (" + ", ".join("'" + p.replace("'", "''") + "'" for p in only) + ")"


def _person_join(con: duckdb.DuckDBPyConnection, only: Collection[str] | None = None
                 ) -> tuple[str, str]:
    """SQL for an event's person: identity's ``event_persons``, else the user/anonymous id
    (``only``: just these people's events)."""
    if _exists(con, "event_persons"):
        if only is not None:
            return (f"join (select seq, person_id from event_persons where {_in(only)}) ep"
                    " on ep.seq = e.seq", "ep.person_id")  # fmt: skip
        return "join event_persons ep on ep.seq = e.seq", "ep.person_id"
    return "", "coalesce(e.user_id, e.anonymous_id)"  # fallback before identity has run


#: One product line of an order, as the model step that reads the orders makes it.
_LINE = pa.schema([("seq", pa.int64()), ("pos", pa.int64()), ("person", pa.string()),
                   ("ts", pa.timestamp("us", tz="UTC")), ("cur", pa.string()),
                   ("product_id", pa.string()), ("category", pa.string()),
                   ("price", pa.float64()), ("quantity", pa.float64()), ("name", pa.string())])  # fmt: skip


def _text(v: Any) -> str | None:
    """A JSON value as text (as DuckDB's ``from_json`` reads it into a VARCHAR)."""
    if v is None or isinstance(v, str):
        return v
    return orjson.dumps(v).decode()


def _number(v: Any) -> float | None:
    if isinstance(v, bool | int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def order_lines(batch: pa.RecordBatch) -> pa.Table:
    """A model step (:meth:`~empatia.store.engine.Engine.map_batches`): each order's
    ``products`` (JSON text) as one row per product line, numbered by ``pos``."""
    rows: list[int] = []
    cols: dict[str, list[Any]] = {k: [] for k in ("pos", "product_id", "category", "price",
                                                  "quantity", "name")}  # fmt: skip
    for r, text in enumerate(batch.column("products").to_pylist()):
        try:
            products = orjson.loads(text) if text else None
        except orjson.JSONDecodeError:
            products = None
        for pos, p in enumerate(products if isinstance(products, list) else []):
            if isinstance(p, dict):
                rows.append(r)
                cols["pos"].append(pos)
                for k in ("product_id", "category", "name"):
                    cols[k].append(_text(p.get(k)))
                for k in ("price", "quantity"):
                    cols[k].append(_number(p.get(k)))
    order = pa.Table.from_batches([batch]).select(["seq", "person", "ts", "cur"]).take(
        pa.array(rows, pa.int64()))
    return pa.table({f.name: order[f.name] if f.name in order.column_names
                     else pa.array(cols[f.name], f.type) for f in _LINE}).cast(_LINE)  # fmt: skip


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
    with eng.store.read() as cur:
        identity = _exists(cur, "event_persons")
    if identity:
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
    lines = eng.map_batches(src, order_lines, _LINE, "order_lines")
    prof = eng.table("profiles")
    base = eng.to_arrow(prof.aggregate(b=prof.currency.arbitrary())).column("b")[0].as_py() or "EUR"
    rates = eng.table("exchange_rates")
    r = rates.filter(rates.base == base).select(r_cur=rates.currency, r_day=rates.day,
                                                r_rate=rates.rate)  # fmt: skip
    on_day = lines.join(r, [lines.cur == r.r_cur, r.r_day <= lines.ts.date()])
    asof = on_day.group_by(["seq", "pos"]).aggregate(rate=on_day.r_rate.argmax(on_day.r_day))
    lr = lines.left_join(asof, ["seq", "pos"]).select(*_LINE.names, rate=asof.rate)
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


def occasions(eng: Engine, now: datetime, only: Collection[str] | None = None) -> pd.DataFrame:
    """Purchase occasions — one row per person, item and (UTC) day — collected to the driver,
    where the recommender is fitted (it needs every occasion at once): ``qty`` summed, ``ts``
    the last purchase of the day, ``past_ts`` the last one not after ``now``; in the order of
    their first purchase, so the model's rows are the same on every engine."""
    lines = purchase_lines(eng, only)
    at = ibis.literal(pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo
                      else pd.Timestamp(now).tz_localize("UTC"), type="timestamp('UTC')")  # fmt: skip
    occ = lines.group_by(["person", "item", lines.ts.date().name("day")]).aggregate(
        qty=lines.qty.sum(), last=lines.ts.max(), past_ts=lines.ts.max(where=lines.ts <= at),
        category=lines.category.max(), name=lines.name.max(),
        first=(lines.seq * 65536 + lines.pos).min(),
    )  # fmt: skip
    frame = eng.to_arrow(occ.order_by("first")).to_pandas()
    for col in ("last", "past_ts"):  # Spark's come without their zone: UTC, the session's
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame.rename(columns={"last": "ts"})[["person", "item", "ts", "qty", "category",
                                                  "name", "past_ts"]]  # fmt: skip


def persons(store: Store) -> list[str]:
    with store.read() as con:
        parts = [f"select {c} from {t}" for t, c in
                 (("profiles", "person_id"), ("event_persons", "distinct person_id"))
                 if _exists(con, t)]
        if not parts:
            return []
        return [r[0] for r in con.execute(" union ".join(parts) + " order by 1").fetchall()]


def consents(store: Store, person_id: str | None = None, after_seq: int | None = None,
             only: Collection[str] | None = None) -> dict[str, dict[str, bool]]:
    """person → purpose → granted, from privacy's ``consent_current`` view once the privacy
    stage has filled its ledger; before that (adapter) the latest ``Consent Updated`` (or
    ``context.consent``) per person and purpose, read from the event log."""
    with store.read() as con:
        args: list[Any]
        where, args = ("", [])
        if _exists(con, "consent_current") and _ledger_filled(store):
            if person_id:
                where, args = "where person_id = ?", [person_id]
            elif only is not None:
                where = f"where {_in(only)}"
            rows = con.execute(
                f"select person_id, purpose, granted from consent_current {where}", args
            ).fetchall()
        else:  # fallback until privacy's view exists: the event log itself
            join, person = _person_join(con, only)
            if person_id:
                where, args = f"and {person} = ?", [person_id]
            if after_seq is not None:
                where, args = where + " and e.seq > ?", args + [after_seq]
            rows = con.execute(f"""
                with c as (
                    select {person} as person_id, least(e."timestamp", e.received_at) as ts, e.seq,
                           json_extract_string(e.raw, '$.properties.purpose') as purpose,
                           try_cast(json_extract_string(e.raw, '$.properties.granted') as boolean) as granted
                    from events e {join}
                    where e.type = 'track' and e.event = 'Consent Updated' {where}
                    union all
                    select {person}, least(e."timestamp", e.received_at), e.seq, k.key,
                           try_cast(k.value as boolean)
                    from events e {join},
                         json_each(json_extract(e.raw, '$.context.consent')) k
                    where json_extract(e.raw, '$.context.consent') is not null {where}
                )
                -- privacy's rule: a grant holds only when it is the latest decision both by
                -- arrival (seq) and by when it was made (clamped to arrival)
                select person_id, purpose, arg_max(granted, seq) and arg_max(granted, (ts, seq))
                from c where purpose is not null and granted is not null
                group by person_id, purpose
            """, args + args).fetchall()
    out: dict[str, dict[str, bool]] = {}
    for pid, purpose, granted in rows:
        out.setdefault(pid, {})[purpose] = bool(granted)
    return out


def _utc(t: Any) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize("UTC") if t.tzinfo is None else t


@dataclass
class _Reader:
    """One pass over the other stages' tables for :func:`person_states`."""

    con: duckdb.DuckDBPyConnection
    now: datetime
    policy: PolicyConfig
    only: Collection[str] | None
    states: dict[str, dict[str, Any]]

    def __post_init__(self) -> None:
        self.pin = _in(self.only)
        self.join, self.person = _person_join(self.con, self.only)

    def put(self, pid: str, **kw: Any) -> None:
        self.states.setdefault(pid, {"person_id": pid}).update(kw)

    def contacts(self, pid: str) -> dict[str, int]:
        return self.states.setdefault(pid, {"person_id": pid}).setdefault("contacts", {})

    def profiles(self) -> None:
        con, pin = self.con, self.pin
        if not _exists(con, "profiles"):
            return
        cols = {r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_name='profiles'"
        ).fetchall()}  # fmt: skip
        clv = "clv_12m" if "clv_12m" in cols else "null"
        for pid, ch, v in con.execute(
            f"select person_id, preferred_channel, {clv} from profiles where {pin}"
        ).fetchall():
            self.put(pid, preferred_channel=CHANNEL_MAP.get(ch or ""), clv=v)

    def words(self) -> dict[str, tuple[pd.Timestamp, dict[str, Any]]]:
        """Mood in the mood window; hurts older than it that no kind word made right since."""
        con, now, policy, join, person = self.con, self.now, self.policy, self.join, self.person
        old_hurts: dict[str, tuple[pd.Timestamp, dict[str, Any]]] = {}
        if not _exists(con, "text_analysis"):
            return old_hurts
        since = pd.Timestamp(now) - pd.Timedelta(days=policy.mood_days)
        hurt_since = pd.Timestamp(now) - pd.Timedelta(days=max(policy.hurt_days, policy.mood_days))
        kinds = ", ".join(f"'{k}'" for k in ESCALATION_KINDS)
        rows = con.execute(f"""
            with t as (
            select {person} as person_id, a.seq, a."timestamp" as ts, a.anger,
                   a.frustration, a.score,
                   list_filter(json_extract_string(a.escalation, '$[*].cue'),
                               lambda c: c in ({kinds})) as threats
            from text_analysis a join events e on e.seq = a.seq {join}
            where a."timestamp" >= ? and a."timestamp" <= ?
            )
            select person_id,
               max(anger) filter (where ts >= ?), max(frustration) filter (where ts >= ?),
               arg_max(score, ts) filter (where ts >= ?),
               list_distinct(flatten(list(threats order by seq) filter (where ts >= ?))),
               arg_max({{'ts': ts, 'anger': anger, 'frustration': frustration,
                         'score': score, 'threats': threats}}, ts) filter (
                   where coalesce(anger, 0) >= ? or coalesce(frustration, 0) >= ?
                      or coalesce(score, 0) <= ? or len(threats) > 0),
               max(ts) filter (where score >= ?)
            from t group by 1
        """, [hurt_since, now, *[since] * 4, policy.angry_threshold, policy.angry_threshold,
              policy.negative_threshold, KIND_WORD]).fetchall()  # fmt: skip
        for pid, anger, frustration, score, threats, hurt, kind_at in rows:
            if anger is not None or score is not None:  # texts in the mood window
                self.put(pid, anger=anger, frustration=frustration, sentiment=score,
                         threats=sorted(threats or []))  # fmt: skip
            if hurt is not None and hurt["ts"] < since and not (kind_at and kind_at > hurt["ts"]):
                old_hurts[pid] = (pd.Timestamp(hurt["ts"]), hurt)
        return old_hurts

    def hurt_cases(self) -> dict[str, tuple[pd.Timestamp, str]]:
        """Resolved cases that hurt (experience's verdict): the latest within hurt_days."""
        out: dict[str, tuple[pd.Timestamp, str]] = {}
        if _exists(self.con, "experience_journeys"):
            for pid, at, why in self.con.execute(
                "select person_id, max(last_at), arg_max(coalesce(hurt_reasons, 'high effort'), "
                "last_at) from experience_journeys where succeeded_but_hurt and last_at >= ? "
                f"and last_at <= ? and {self.pin} group by 1",
                [pd.Timestamp(self.now) - pd.Timedelta(days=self.policy.hurt_days), self.now],
            ).fetchall():
                out[pid] = (pd.Timestamp(at), why)
        return out

    def unresolved(self) -> None:
        """Unresolved service journeys: experience's table when present, else the event log."""
        con, now, join, person = self.con, self.now, self.join, self.person
        if _exists(con, "journey_unresolved") and _has_rows(con, "experience_journeys"):
            rows = con.execute(
                "select person_id, count(*), any_value(topic) from journey_unresolved "
                f"where coalesce(unresolved_age_days, 0) <= 60 and {self.pin} group by 1"
            ).fetchall()
        else:
            rows = con.execute(f"""
                with c as (
                    select {person} as person_id, e.event, e."timestamp" as ts,
                           json_extract_string(e.raw, '$.properties.case_id') as case_id,
                           json_extract_string(e.raw, '$.properties.topic') as topic
                    from events e {join}
                    where e.type = 'track' and e.event in ('Case Opened', 'Case Resolved')
                      and e."timestamp" <= ? and e."timestamp" >= ?
                )
                select person_id, count(*), any_value(topic) from (
                    select person_id, case_id, any_value(topic) as topic,
                           bool_or(event = 'Case Resolved') as resolved
                    from c where case_id is not null group by 1, 2
                ) where not resolved group by 1
            """, [now, pd.Timestamp(now) - pd.Timedelta(days=60)]).fetchall()
        for pid, n, topic in rows:
            self.put(pid, unresolved_cases=int(n), unresolved_topic=topic)

    def care(self) -> None:
        if _exists(self.con, "care_list"):
            for pid, why in self.con.execute(
                "select person_id, any_value(explanation) from care_list "
                f"where {self.pin} group by 1"
            ).fetchall():
                self.put(pid, special_care=True, care_reason=why)

    def outbound(self) -> None:
        """Contacts in the fatigue window (events and delivered decisions); surveys sent."""
        con, now, join, person, policy = self.con, self.now, self.join, self.person, self.policy
        fatigue_since = pd.Timestamp(now) - pd.Timedelta(days=policy.fatigue_days)
        names = list(OUTBOUND_EVENTS)
        for pid, name, ch, n in con.execute(f"""
            select {person}, e.event, coalesce(json_extract_string(e.raw, '$.properties.channel'),
                                                json_extract_string(e.raw, '$.context.channel')), count(*)
            from events e {join}
            where e.type = 'track' and e.event in ({",".join("?" * len(names))})
              and e."timestamp" >= ? and e."timestamp" <= ?
            group by 1, 2, 3
        """, [*names, fatigue_since, now]).fetchall():
            channel = OUTBOUND_EVENTS.get(name) or CHANNEL_MAP.get(ch or "", "email")
            c = self.contacts(pid)
            c[channel] = c.get(channel, 0) + int(n)
            if name == "Survey Sent":
                self.states[pid]["may_survey"] = False
        if _exists(con, "decision_log"):
            for pid, ch, n in con.execute(
                f"select person_id, channel, count(*) from decision_log where delivered and {self.pin} "
                "and decided_at >= ? and decided_at <= ? and channel is not null group by 1, 2",
                [fatigue_since, now],
            ).fetchall():
                c = self.contacts(pid)
                c[ch] = c.get(ch, 0) + int(n)
        survey_since = pd.Timestamp(now) - pd.Timedelta(days=policy.survey_gap_days)
        for (pid,) in con.execute(f"""
            select distinct {person} from events e {join}
            where e.type = 'track' and e.event = 'Survey Sent' and e."timestamp" >= ?
              and e."timestamp" <= ?
        """, [survey_since, now]).fetchall():
            self.put(pid, may_survey=False)

    def purchases(self, buys: pd.DataFrame | None) -> dict[str, pd.Timestamp]:
        """Hours since the last purchase, items bought recently; each person's last purchase."""
        if buys is None or not len(buys):
            return {}
        now_ts = _utc(self.now)
        ts = pd.to_datetime(buys["ts"], utc=True)
        # occasions (:func:`occasions`) carry their last purchase not after now
        seen = pd.to_datetime(buys["past_ts"], utc=True) if "past_ts" in buys else ts
        ok = seen.notna() & (seen <= now_ts)
        past = buys[ok].assign(ts=seen[ok])
        for pid, t in past.groupby("person")["ts"].max().items():
            self.put(str(pid), hours_since_purchase=(now_ts - t).total_seconds() / 3600)
        days = self.policy.suppress_same_item_days
        recent = past[past["ts"] >= now_ts - pd.Timedelta(days=days)]
        if len(recent):
            for (pid, item), t in recent.groupby(["person", "item"])["ts"].max().items():
                st = self.states.setdefault(str(pid), {"person_id": str(pid)})
                st.setdefault("recent_items", {})[str(item)] = (now_ts - t).total_seconds() / 86400
        return ts.groupby(buys["person"].astype(str)).max().to_dict()  # type: ignore[no-any-return]

    def hurts(self, old_hurts: dict[str, tuple[pd.Timestamp, dict[str, Any]]],
              hurt_cases: dict[str, tuple[pd.Timestamp, str]],
              last_buy: dict[str, pd.Timestamp]) -> None:
        """Old hurts and cases that hurt count while no purchase came after them."""
        now_ts = _utc(self.now)

        def made_right(pid: str, at: pd.Timestamp) -> bool:
            bought = last_buy.get(pid)
            return bought is not None and at < bought <= now_ts  # they bought again after it

        for pid, (at, hurt) in old_hurts.items():
            at = _utc(at)
            if made_right(pid, at):
                continue
            st = self.states.setdefault(pid, {"person_id": pid})
            st["anger"] = max(st.get("anger") or 0, hurt["anger"] or 0) or None
            st["frustration"] = max(st.get("frustration") or 0, hurt["frustration"] or 0) or None
            if st.get("sentiment") is None or (hurt["score"] or 0) < st["sentiment"]:
                st["sentiment"] = hurt["score"]
            st["threats"] = sorted({*st.get("threats", []), *(hurt["threats"] or [])})
            st["hurt_days_ago"] = round((now_ts - at).total_seconds() / 86400, 1)
        for pid, (at, why) in hurt_cases.items():
            at = _utc(at)
            if not made_right(pid, at):
                self.put(pid, hurt_case=why,
                         hurt_case_days_ago=round((now_ts - at).total_seconds() / 86400, 1))


def person_states(store: Store, now: datetime, policy: PolicyConfig,
                  buys: pd.DataFrame | None = None, only: Collection[str] | None = None
                  ) -> dict[str, dict[str, Any]]:
    """Every person's policy inputs as plain dicts (see :class:`~empatia.decide.policy.PersonState`);
    with ``only``, just these people's (a run after a few new events)."""
    everyone = persons(store) if only is None else sorted(only)
    states: dict[str, dict[str, Any]] = {p: {"person_id": p} for p in everyone}
    with store.read() as con:
        r = _Reader(con, now, policy, only, states)
        for pid, c in consents(store, only=only).items():
            r.put(pid, consents=c)
        r.profiles()
        old_hurts = r.words()
        hurt_cases = r.hurt_cases()
        r.unresolved()
        r.care()
        r.outbound()
    r.hurts(old_hurts, hurt_cases, r.purchases(buys))
    if only is not None:
        return {p: states[p] for p in only if p in states}
    return states


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


def _ledger_filled(store: Store) -> bool:
    with store.read() as cur:
        if not _exists(cur, "consent_ledger"):
            return False
        return cur.execute("select exists(select 1 from consent_ledger)").fetchone()[0]  # type: ignore[index]


def last_seq(store: Store) -> int:
    row = store.con.execute("select max(seq) from events").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
