"""Effort per service journey and "succeeded but hurt" (S4).

One row per support case in ``experience_journeys``: contacts and steps to resolution,
channel switches, transfers, total and live wait, repeat contacts on the same topic, age of
open cases, the customer's words (sentiment from the emotion stage), the company's own view
(``internal_success``, self-rating), and what happened after (bought again, left, went
public). A journey *succeeded but hurt* when the company's records call it a success while
the effort was high or the customer's words were negative; ``hurt_reasons`` says which.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from empatia.experience.config import ExperienceConfig
from empatia.experience._ibis import epoch
from empatia.store.engine import Engine, union

_CASE_EVENTS = ("Case Opened", "Support Contact", "Case Resolved", "Message Sent",
                "Call Transcribed")  # fmt: skip
#: What the person did after a case that shows they are still around (or went public).
_AFTER_EVENTS = ("Order Completed", "Product Viewed", "Review Submitted", "Product Added",
                 "Checkout Started", "Booking Created")  # fmt: skip


def _case_events(eng: Engine, texts: bool, cases: ir.Table | None) -> ir.Table:
    """The service events of the cases (``cases``: only these ``case_id``), with their person,
    the case's properties and the sentiment of the customer's words."""
    ev = eng.table("events")
    e = ev.filter(ev.type == "track", ev.event.isin(_CASE_EVENTS))
    if cases is not None:
        ce = eng.table("experience_case_events")
        e = e.semi_join(ce.semi_join(cases, "case_id").select("seq"), "seq")
    keys = ("case_id", "topic", "channel", "wait_seconds", "transferred", "internal_success",
            "agent_rating_internal", "resolution")  # fmt: skip
    p = dict(zip(keys, eng.json_strs(e.raw, [f"$.properties.{k}" for k in keys]), strict=True))
    e = e.select(
        "seq", "event", ts=ev["timestamp"], case_id=p["case_id"], topic=p["topic"],
        channel=p["channel"], wait=p["wait_seconds"].try_cast("float64"),
        transferred=p["transferred"].try_cast("boolean"),
        internal_success=p["internal_success"].try_cast("boolean"),
        rating=p["agent_rating_internal"].try_cast("float64"), resolution=p["resolution"],
    )  # fmt: skip
    e = e.filter(e.case_id.notnull()).join(eng.table("event_persons").select("seq", "person_id"), "seq")
    if texts:
        ta = eng.table("text_analysis").select("seq", "score")
        e = e.left_join(ta, "seq").drop("seq_right")
    else:
        e = e.mutate(score=ibis.null().cast("float64"))
    resolved = e.event == "Case Resolved"
    return e.mutate(resolved_ts=e.ts.max(where=resolved).over(group_by=e.case_id))


def _prop(eng: Engine, raw: ir.StringValue, name: str) -> ir.StringValue:
    return eng.json_str(raw, f"$.properties.{name}")


def _per_case(e: ir.Table) -> ir.Table:
    contact = e.event == "Support Contact"
    resolved = e.event == "Case Resolved"
    scored = e.score.notnull()
    path = ibis.struct({"ts": e.ts, "seq": e.seq, "channel": e.channel}).collect(
        where=contact & e.channel.notnull()
    )
    return e.group_by("case_id").aggregate(
        topic=e.topic.arbitrary(where=e.topic.notnull()),
        first_at=e.ts.min(), last_at=e.ts.max(), last_seq=e.seq.max(),
        contacts=e.seq.count(where=contact), steps=e.seq.count(),
        channels=e.channel.nunique(where=contact),
        channel_path=path.sort().map(lambda s: s.channel).join(">").nullif(""),
        transfers=e.seq.count(where=contact & e.transferred),
        wait_seconds=e.wait.sum(where=contact).fill_null(0.0),
        live_wait_seconds=e.wait.sum(where=contact & (e.channel.fill_null("") != "email")).fill_null(0.0),
        resolved=resolved.any(),
        resolution=e.resolution.argmax(e.ts, where=resolved & e.resolution.notnull()),
        internal_success=e.internal_success.any(where=resolved),
        self_rating=e.rating.mean(where=contact),
        resolved_at=e.ts.max(where=resolved),
        texts=e.score.count(),
        min_score=e.score.min(),
        last_score=e.score.argmax(e.ts, where=scored),
        last_text_seq=e.seq.argmax(e.ts, where=scored),
        verdict_score=e.score.argmax(e.ts, where=scored & (e.ts >= e.resolved_ts)),
    )  # fmt: skip


def _switches(e: ir.Table) -> ir.Table:
    """Per case, how often the contact channel changed from one contact to the next."""
    c = e.filter(e.event == "Support Contact", e.channel.notnull())
    c = c.mutate(prev=c.channel.lag().over(group_by=c.case_id, order_by=[c.ts, c.seq]))
    return c.group_by("case_id").aggregate(channel_switches=c.seq.count(where=c.channel != c.prev))


def _owner(e: ir.Table) -> ir.Table:
    """A case's person: the one with most of its events; on a tie, the one who opened it
    (the earliest event in time: events arrive in any order, so not the first stored)."""
    n = e.group_by(["case_id", "person_id"]).aggregate(n=e.count(), at=e.ts.min(), first=e.seq.min())
    n = n.mutate(r=ibis.row_number().over(group_by=n.case_id,
                                          order_by=[n.n.desc(), n.at, n.first]))  # fmt: skip
    return n.filter(n.r == 0).select("case_id", "person_id")


def _evidence(e: ir.Table) -> ir.Table:
    """Per case, the seqs of the customer's three worst words (comma-separated)."""
    s = e.filter(e.score.notnull())
    s = s.mutate(r=ibis.row_number().over(group_by=s.case_id, order_by=[s.score, s.ts, s.seq]))
    seq = s.seq.cast("string")
    g = s.group_by("case_id").aggregate(*[seq.max(where=s.r == k).name(f"e{k}") for k in range(3)])
    return g.select("case_id", evidence_seqs=g.e0 + ibis.coalesce("," + g.e1, "")
                    + ibis.coalesce("," + g.e2, ""))  # fmt: skip


def journeys_expr(eng: Engine, cfg: ExperienceConfig, texts: bool,
                  cases: ir.Table | None = None) -> ir.Table:  # fmt: skip
    """One row per case (``cases``: only those ``case_id``), before it is judged."""
    e = _case_events(eng, texts, cases)
    c = (_per_case(e).join(_owner(e), "case_id").left_join(_switches(e), "case_id")
         .drop("case_id_right").left_join(_evidence(e), "case_id").drop("case_id_right"))  # fmt: skip
    ends = epoch(ibis.coalesce(c.resolved_at, c.last_at))
    c = c.mutate(prev_end=ends.lag().over(group_by=[c.person_id, c.topic],
                                          order_by=[c.first_at, c.case_id]))  # fmt: skip
    ev = eng.table("events")
    c = c.cross_join(ev.aggregate(as_of=ev["timestamp"].max()))
    null = ibis.null().cast("float64")
    return c.select(
        "person_id", "case_id", "topic", "first_at", "last_at", "last_seq", "contacts", "steps",
        "channels", "channel_path", "transfers", "wait_seconds", "live_wait_seconds",
        "resolved", "resolution", "self_rating", "texts", "min_score", "last_score",
        "last_text_seq", "verdict_score", "evidence_seqs", "as_of",
        channel_switches=c.channel_switches.fill_null(0),
        repeat_contact=(epoch(c.first_at) - c.prev_end <= float(cfg.repeat_days) * 86400).fill_null(False),
        internal_success=c.internal_success.fill_null(False),
        resolution_days=(epoch(c.resolved_at) - epoch(c.first_at)) / 86400,
        unresolved_age_days=ibis.ifelse(~c.resolved, (epoch(c.as_of) - epoch(c.first_at)) / 86400, null),
    )  # fmt: skip


#: What :func:`judge` adds to a case.
JUDGED = (("effort_score", pa.float64()), ("succeeded_but_hurt", pa.bool_()),
          ("hurt_reasons", pa.string()))  # fmt: skip


def judge(batch: pa.RecordBatch, cfg: ExperienceConfig) -> pa.Table:
    """A Python step (:meth:`~empatia.store.engine.Engine.map_batches`): each case with its
    effort score, whether it succeeded but hurt, and why in words (:func:`_judge`)."""
    table = pa.Table.from_batches([batch])
    if not batch.num_rows:
        for name, type_ in JUDGED:
            table = table.append_column(name, pa.array([], type_))
        return table
    df = _judge(batch.to_pandas(), cfg)
    for name, type_ in JUDGED:
        col = df[name].astype(object).where(df[name].notna(), None)
        table = table.append_column(name, pa.array(col.tolist(), type_))
    return table


def after_expr(eng: Engine, cases: ir.Table, cfg: ExperienceConfig) -> ir.Table:
    """Per case of ``cases`` (``case_id, person_id, last_at, as_of``): did the person buy
    again, leave, or complain publicly within ``after_days``?"""
    ev = eng.table("events")
    people = cases.select("person_id").distinct()
    act = ev.filter(ev.type.isin(("page", "screen")) | ev.event.isin(_AFTER_EVENTS)).join(
        eng.table("event_persons").select("seq", "person_id").semi_join(people, "person_id"),
        "seq")  # fmt: skip
    # the people's events first, then a review's JSON, read for reviews only
    prop = partial(_prop, eng, act.raw)
    public = ibis.ifelse(act.event == "Review Submitted",
                         prop("public").try_cast("boolean").fill_null(False)
                         & (prop("rating").try_cast("float64") <= 2), False)  # fmt: skip
    act = act.select("person_id", a_ts=act["timestamp"], bought=act.event == "Order Completed",
                     public_bad=public)  # fmt: skip
    days = float(cfg.after_days)
    j = cases.select("case_id", "person_id", "last_at", "as_of")
    joined = j.left_join(act, [j.person_id == act.person_id, act.a_ts > j.last_at,
                               act.a_ts <= j.last_at + ibis.interval(days=int(days))])  # fmt: skip
    g = joined.group_by("case_id").aggregate(
        bought_after=joined.bought.any().fill_null(False),
        _quiet=(epoch(joined.as_of.max()) - epoch(joined.last_at.max())) >= days * 86400,
        _n=joined.a_ts.count(),
        public_after=joined.public_bad.any().fill_null(False),
    )
    return g.select("case_id", "bought_after", "public_after",
                    left_after=ibis.ifelse(g._quiet, g._n == 0, ibis.null().cast("boolean")))  # noqa: SLF001


def journeys_rows(eng: Engine, cfg: ExperienceConfig, texts: bool,
                  cases: ir.Table | None = None) -> ir.Table:  # fmt: skip
    """The rows of ``experience_journeys`` of ``cases`` (all without): built, judged (a
    Python step), and what followed."""
    built = journeys_expr(eng, cfg, texts, cases)
    schema = built.schema().to_pyarrow()
    for name, type_ in JUDGED:
        schema = schema.append(pa.field(name, type_))
    judged = eng.map_batches(built, partial(judge, cfg=cfg), schema, "experience_judged")
    return judged.join(after_expr(eng, judged, cfg), "case_id")


def index_cases(eng: Engine, con: Any, *, full: bool) -> int:
    """Keep ``experience_case_events`` (each service event's case): new events only, or all
    again with ``full``; Ibis on ``eng`` (``con``: its store cursor, for the last event
    indexed). Returns the events added."""
    last = 0
    if not full:
        rows = con.execute("select coalesce(max(seq), 0) from experience_case_events").fetchall()
        last = int(rows[0][0]) if rows else 0
    ev = eng.table("events")
    new = ev.filter(ev.type == "track", ev.event.isin(_CASE_EVENTS), ev.seq > last).select(
        "seq", case_id=eng.json_str(ev.raw, "$.properties.case_id")
    )
    return eng.write(new.filter(new.case_id.notnull()), "experience_case_events", replace=full)


def affected(eng: Engine, changed: ir.Table, cfg: ExperienceConfig) -> tuple[ir.Table, int]:
    """The cases an incremental run rebuilds (a table of ``case_id``, made by
    :meth:`~empatia.store.engine.Engine.materialize`; the caller drops it) and how many:
    those of the ``changed`` people (``person_id``) and of those whose case is old enough now
    to say whether they left (``left_after`` was not known yet), then, until nothing is
    added, every case with an event of one of them or in their name, and everyone with an
    event in one of those cases (a case belongs to the person with most of its events;
    whether it repeats an earlier one depends on the person's other cases)."""
    j, ev = eng.table("experience_journeys"), eng.table("events")
    ce = eng.materialize(eng.table("experience_case_events").join(
        eng.table("event_persons").select("seq", "person_id"), "seq"
    ).select("case_id", "person_id"), "exp_ce")  # fmt: skip
    aged = j.cross_join(ev.aggregate(_now=ev["timestamp"].max()))
    aged = aged.filter(aged.left_after.isnull(),
                       epoch(aged._now) - epoch(aged.last_at) >= float(cfg.after_days) * 86400)  # noqa: SLF001  # fmt: skip
    people = eng.materialize(union(changed.select("person_id"), aged.select("person_id"),
                                   distinct=True), "exp_people")  # fmt: skip
    cases = None
    try:
        while True:
            if cases is not None:
                eng.drop_temp(cases)
            cases = eng.materialize(union(ce.semi_join(people, "person_id").select("case_id"),
                                          j.semi_join(people, "person_id").select("case_id"),
                                          distinct=True), "exp_cases")  # fmt: skip
            more = union(ce.semi_join(cases, "case_id").select("person_id"),
                         j.semi_join(cases, "case_id").select("person_id"), distinct=True)
            more = eng.materialize(more.anti_join(people, "person_id"), "exp_more")
            n = _count(eng, more)
            if n:
                grown = eng.materialize(union(people, more), "exp_people")
                eng.drop_temp(people)
                people = grown
            eng.drop_temp(more)
            if not n:
                break
    finally:
        for t in (ce, people):
            eng.drop_temp(t)
    return cases, _count(eng, cases)


def _count(eng: Engine, t: ir.Table) -> int:
    rows = eng.to_arrow(t.aggregate(n=t.count())).to_pylist()
    return int(rows[0]["n"]) if rows else 0


def update_journeys(
    eng: Engine, con: duckdb.DuckDBPyConnection, cfg: ExperienceConfig, changed: str
) -> dict[str, int]:
    """Rebuild the cases of the ``changed`` people (see :func:`affected`) in
    ``experience_journeys``, and the "now" of every other row (``as_of``, the age of open
    cases). Runs on ``con`` inside the caller's transaction."""
    texts = eng.has("text_analysis")
    index_cases(eng, con, full=False)
    cases, n_cases = affected(eng, eng.table(changed), cfg)
    try:
        eng.write(journeys_rows(eng, cfg, texts, cases), "experience_journeys",
                  where=f"case_id in (select case_id from {cases.get_name()})")  # fmt: skip
    finally:
        eng.drop_temp(cases)
    _age(eng)
    return _counts(eng) | {"cases_rebuilt": n_cases}


def _age(eng: Engine) -> None:
    """Move every case's "now" (``as_of``) to the newest event, and open cases' age with it."""
    j, ev = eng.table("experience_journeys"), eng.table("events")
    j = j.cross_join(ev.aggregate(_now=ev["timestamp"].max()))
    age = (epoch(j._now) - epoch(j.first_at)) / 86400  # noqa: SLF001
    aged = eng.materialize(j.mutate(as_of=j._now, unresolved_age_days=ibis.ifelse(  # noqa: SLF001
        ~j.resolved, age, ibis.null().cast("float64"))).drop("_now"))  # fmt: skip
    eng.write(aged, "experience_journeys")
    eng.drop_temp(aged)


def _counts(eng: Engine) -> dict[str, int]:
    j = eng.table("experience_journeys")
    row = eng.to_arrow(j.aggregate(n=j.count(), hurt=j.count(where=j.succeeded_but_hurt))).to_pylist()[0]
    # a filtered count of no rows is NULL on Spark
    return {"service_journeys": int(row["n"] or 0), "succeeded_but_hurt": int(row["hurt"] or 0)}


def _effort(contacts: Any, live_wait: Any, switches: Any, transfers: Any, repeat: Any) -> Any:
    return (
        0.35 * ((contacts - 1).clip(lower=0) / 6).clip(upper=1)
        + 0.25 * (live_wait / 7200).clip(upper=1)
        + 0.2 * (switches / 3).clip(upper=1)
        + 0.1 * (transfers / 2).clip(upper=1)
        + 0.1 * repeat.astype(float)
    )


def build_journeys(eng: Engine, con: Any, cfg: ExperienceConfig) -> dict[str, int]:
    """Rebuild ``experience_journeys`` (in the caller's transaction); return counts
    (journeys, succeeded_but_hurt)."""
    eng.write(journeys_rows(eng, cfg, eng.has("text_analysis")), "experience_journeys")
    return _counts(eng)


def _judge(df: Any, cfg: ExperienceConfig) -> Any:
    contacts = df["contacts"].fillna(0).astype(float)
    live = df["live_wait_seconds"].fillna(0).astype(float)
    switches = df["channel_switches"].fillna(0).astype(float)
    transfers = df["transfers"].fillna(0).astype(float)
    repeat = df["repeat_contact"].fillna(False).astype(bool)
    df["effort_score"] = _effort(contacts, live, switches, transfers, repeat).round(3)
    last = df["last_score"].astype(float)
    verdict = df["verdict_score"].astype(float)
    worst = df["min_score"].astype(float)
    # the customer's verdict after the fix; without one, a long journey's last word stands
    words = verdict.where(
        verdict.notna(), last.where(contacts >= cfg.hurt_contacts_without_verdict)
    )
    rules = [
        (contacts >= cfg.hurt_contacts, lambda r: f"{int(r.contacts)} contacts"),
        (live >= cfg.hurt_live_wait_seconds,
         lambda r: f"{r.live_wait_seconds / 3600:.1f} h waiting"),
        (switches >= cfg.hurt_channel_switches, lambda r: f"{int(r.channel_switches)} channel switches"),
        (transfers >= cfg.hurt_transfers, lambda r: f"{int(r.transfers)} transfers"),
        ((contacts >= cfg.hurt_min_contacts_for_words) & (words <= cfg.hurt_last_score),
         lambda r: (f"verdict after the fix negative ({r.verdict_score:+.2f})"
                    if r.verdict_score == r.verdict_score and r.verdict_score is not None
                    else f"last word negative ({r.last_score:+.2f})")),
    ]  # fmt: skip
    success = df["internal_success"].fillna(False).astype(bool) & df["resolved"].fillna(False)
    hit = None
    for mask, _ in rules:
        hit = mask if hit is None else hit | mask
    assert hit is not None
    df["succeeded_but_hurt"] = success & hit
    reasons: list[str | None] = []
    for i, r in enumerate(df.itertuples(index=False)):
        if not df["succeeded_but_hurt"].iat[i]:
            reasons.append(None)
            continue
        parts = [fmt(r) for mask, fmt in rules if bool(mask.iat[i])]
        if not (words.iat[i] <= cfg.hurt_last_score) and worst.iat[i] <= cfg.hurt_last_score:
            parts.append(f"lowest word {worst.iat[i]:+.2f}")
        reasons.append(", ".join(parts))
    df["hurt_reasons"] = reasons
    return df
