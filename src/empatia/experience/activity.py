"""Still active (chance): the rhythm's chance, moved by what the person said and went through.

The chance that the person is still around (the activity rhythm's Pareto/NBD model, fitted in
:mod:`~empatia.experience.activity_fit`; on a store too small to fit it, the purchase model's
``profiles.p_alive``) is moved, in log-odds, by what happened to them since their last
purchase, each driver with a weight fitted on the store's own past and pulled toward its
hand-set value (:class:`~empatia.experience.config.ExperienceConfig`, ``active_*``; a weight of
2 divides the odds by e² ≈ 7.4):

- ``threat`` (3.0): threatened to leave, go public or go to court (an escalation cue);
- ``hurt_case`` (2.0): went through a case the company calls a success but that hurt them;
- ``hurt_words`` (1.5): wrote angry, frustrated or very negative words, no kind word since;
- ``open_case`` (1.0): has a case still open;
- ``repeat`` (1.0): contacted us again and again about one thing (a repeat case, or many
  contacts in one);
- ``worsening`` (1.0): their mood trajectory is falling (latest words after their last order);
- ``quiet`` (1.0 per e-fold): did nothing themselves (no visit, order, message) for longer
  than their own rhythm: the days since, over their usual gap between active days (at least
  30 days; 30 for who was active on one day only), as the purchase model reads orders.

A purchase after a driver cancels it: people who bought again after a complaint are still
customers. ``p_active`` is null where the purchase model has no ``p_alive`` (never bought).
The page lists the drivers that lowered the chance (weight above 0), strongest first, and the
quiet spell, which also explains a low rhythm chance.

The person's own facts (last order, last activity, latest threat, hurt and kind words) are
kept per person and recomputed when their events change (``empatia.store.changes``); the
drivers and ``p_active`` are recomputed for everyone at each run (they depend on "now", on
profiles' ``p_alive`` and on the service journeys), from small per-person tables.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from empatia.emotion.lexicon import ESCALATION_KINDS
from empatia.experience._ibis import epoch, in_people
from empatia.experience.config import ExperienceConfig
from empatia.store.engine import Engine

#: The purchase model is never taken as surer than this (either way) before it is moved.
SURE = 0.99
#: What the person did themselves: shows they are still around.
ACTIVE_EVENTS = ("Order Completed", "Product Viewed", "Product Added", "Checkout Started",
                 "Booking Created", "Review Submitted", "Support Contact", "Message Sent",
                 "Case Opened", "Survey Answered")  # fmt: skip
#: How each cue reads in a driver.
THREAT_WORDS = {"leave": "threatened to leave", "public": "threatened to go public",
                "legal": "threatened legal action"}  # fmt: skip


#: The drivers, in the order of ``ExperienceConfig.active_<code>`` (their default weights).
DRIVERS = ("threat", "hurt_case", "hurt_words", "open_case", "repeat", "worsening", "quiet")


def default_weights(cfg: ExperienceConfig) -> dict[str, float]:
    """The hand-set weights (how much each driver lowers the log-odds), used until a store
    has history enough to fit its own (:mod:`empatia.experience.activity_fit`)."""
    return {d: float(getattr(cfg, f"active_{d}")) for d in DRIVERS}


def _ts(at: datetime) -> ir.TimestampScalar:
    """A moment as a literal of the store's timestamps (UTC)."""
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return ibis.literal(utc, type=dt.Timestamp(timezone="UTC"))


def _day(ts: ir.TimestampValue) -> ir.IntegerValue:
    """The UTC day number of a moment (days since 1970)."""
    return (epoch(ts) / 86400).floor().cast("int64")


def _days(now: ir.TimestampValue, at: ir.TimestampValue) -> ir.IntegerValue:
    return ((epoch(now) - epoch(at)) / 86400).round().cast("int64")


def _ago(now: ir.TimestampValue, at: ir.TimestampValue) -> ir.StringValue:
    d = _days(now, at)
    return ibis.cases((d < 1, "today"), (d == 1, "yesterday"),
                      else_=d.cast("string") + " days ago")  # fmt: skip


def journeys_at(eng: Engine, at: datetime | None) -> ir.Table:
    """The service journeys, or as they stood at ``at``: those begun by then, their last
    moment at most ``at``, resolved (and hurt) only if that was known by then."""
    j = eng.table("experience_journeys")
    if at is None:
        return j
    t = _ts(at)
    j = j.filter(j.first_at <= t)
    known = j.last_at <= t
    return j.mutate(last_at=ibis.least(j.last_at, t), resolved=j.resolved & known,
                    succeeded_but_hurt=j.succeeded_but_hurt & known)  # fmt: skip


def _journey_drivers(j: ir.Table, f: ir.Table, cfg: ExperienceConfig) -> ir.Table:
    """Per person: open cases (and since when), the latest case that hurt (and why), the
    latest repeated contact — each only if nothing was bought after it."""
    j = j.join(f.select("person_id", "last_order_at"), "person_id")
    since = ~(j.last_order_at > j.last_at).fill_null(False)
    j = j.mutate(
        is_open=~j.resolved.fill_null(False) & since,
        is_hurt=j.succeeded_but_hurt.fill_null(False) & since,
        is_rep=(j.repeat_contact | (j.contacts >= int(cfg.hurt_contacts))).fill_null(False)
        & since,
    )
    order = [j.last_at.desc(), j.case_id.desc()]
    j = j.mutate(rh=ibis.row_number().over(group_by=[j.person_id, j.is_hurt], order_by=order),
                 rr=ibis.row_number().over(group_by=[j.person_id, j.is_rep], order_by=order))  # fmt: skip
    hurt, rep = j.is_hurt & (j.rh == 0), j.is_rep & (j.rr == 0)
    return j.group_by("person_id").aggregate(
        open_cases=j.count(where=j.is_open),
        open_since=j.first_at.min(where=j.is_open),
        hurt_case_at=j.last_at.max(where=j.is_hurt),
        hurt_case_why=j.hurt_reasons.max(where=hurt),
        reps=j.count(where=j.is_rep),
        rep_at=j.last_at.max(where=rep),
        rep_contacts=j.contacts.max(where=rep),
        rep_topic=j.topic.max(where=rep),
        rep_again=(rep & j.repeat_contact.fill_null(False)).any(),
    )


def _said(words: dict[str, ir.StringValue], xs: dict[str, ir.BooleanValue]) -> dict[str, ir.Value]:
    """Each driver's ``x_<code>`` (its value, null where absent) and ``says_<code>``."""
    out: dict[str, ir.Value] = {}
    for d in DRIVERS:
        on = xs[d]
        out[f"x_{d}"] = ibis.ifelse(on, 1.0, ibis.null().cast("float64"))
        out[f"says_{d}"] = ibis.ifelse(on, words[d], ibis.null().cast("string"))
    return out


def drivers_expr(eng: Engine, cfg: ExperienceConfig, *, p_alive: bool,
                 facts: ir.Table | None = None, at: datetime | None = None,
                 trajectories: ir.Table | None = None) -> ir.Table:  # fmt: skip
    """Everyone's drivers: per person of ``facts`` (default: ``experience_activity``), each
    driver's value ``x_<code>`` (null: not there) and words ``says_<code>``, with the
    purchase model's ``p_alive`` (``p_alive``: the profiles table has it), the moment
    (``as_of``) and the Pareto/NBD summary of their active days then (``frequency``,
    ``recency``, ``T``; null without any).

    ``facts``, ``at`` and ``trajectories``: the same as of a past moment, for the fit of the
    weights; the service journeys are then read as they stood at ``at``. The weights and
    the chance are applied by a Python step (:func:`~empatia.experience.activity_fit.score`).
    """
    f = (facts if facts is not None else eng.table("experience_activity")).select(
        "person_id", "last_order_at", "last_active_at", "first_active_at", "active_days",
        "threat_at", "threat_cue", "hurt_at", "kind_at")  # fmt: skip
    if p_alive:
        prof = eng.table("profiles").select("person_id", "p_alive")
        f = f.left_join(prof, "person_id").drop("person_id_right")
    else:
        f = f.mutate(p_alive=ibis.null().cast("float64"))
    if at is None:
        ev = eng.table("events")
        f = f.cross_join(ev.aggregate(as_of=ev["timestamp"].max()))
    else:
        f = f.mutate(as_of=_ts(at))
    q = float(cfg.active_quiet_days)
    gap = ibis.ifelse(f.active_days >= 2, (epoch(f.last_active_at) - epoch(f.first_active_at))
                      / 86400 / (f.active_days - 1), ibis.null().cast("float64"))  # fmt: skip
    f = f.mutate(gap=gap, usual=ibis.greatest(gap.fill_null(q), q))
    j = _journey_drivers(journeys_at(eng, at), f, cfg)
    t = (trajectories if trajectories is not None else eng.table("experience_trajectories"))
    t = t.select("person_id", "direction", t_last_at=t.last_at)
    d = f.left_join(j, "person_id").drop("person_id_right")
    d = d.left_join(t, "person_id").drop("person_id_right")
    now = d.as_of

    def since(at: ir.TimestampValue) -> ir.BooleanValue:  # nothing bought after it
        return ~(d.last_order_at > at).fill_null(False)

    quiet = (epoch(now) - epoch(d.last_active_at)) / 86400
    cue = ibis.cases(*((d.threat_cue == k, v) for k, v in THREAT_WORDS.items()),
                     else_="threatened to leave")  # fmt: skip
    xs = {
        "threat": d.threat_at.notnull() & since(d.threat_at),
        "hurt_case": d.hurt_case_at.notnull(),
        "hurt_words": d.hurt_at.notnull() & since(d.hurt_at)
        & ~(d.kind_at > d.hurt_at).fill_null(False),
        "open_case": d.open_cases.fill_null(0) > 0,
        "repeat": d.reps.fill_null(0) > 0,
        "worsening": (d.direction == "worsening").fill_null(False) & since(d.t_last_at),
        "quiet": d.last_active_at.notnull() & (quiet > d.usual).fill_null(False),
    }
    words = {
        "threat": cue + " " + _ago(now, d.threat_at),
        "hurt_case": "a case that hurt (" + d.hurt_case_why.fill_null("high effort")
        + ") ended " + _ago(now, d.hurt_case_at),
        "hurt_words": "angry or hurt words " + _ago(now, d.hurt_at) + ", nothing bought since",
        "open_case": ibis.ifelse(d.open_cases == 1, "a case still open",
                                 d.open_cases.cast("string") + " cases still open")
        + " since " + _ago(now, d.open_since),
        "repeat": ibis.ifelse(d.rep_again, "contacted us again",
                              d.rep_contacts.cast("string") + " contacts")
        + (" about " + d.rep_topic).fill_null("") + ", " + _ago(now, d.rep_at),
        "worsening": "mood worsening (latest words " + _ago(now, d.t_last_at) + ")",
        "quiet": "nothing from them for " + _days(now, d.last_active_at).cast("string")
        + " days" + (" (usually every " + d.gap.round().cast("int64").cast("string")
                     + " days)").fill_null(""),
    }  # fmt: skip
    said = _said(words, xs)
    said["x_quiet"] = ibis.ifelse(xs["quiet"], (quiet / d.usual).ln(),
                                  ibis.null().cast("float64"))  # fmt: skip
    return d.select("person_id", "p_alive", "last_order_at", "as_of",
                    **rhythm(d, now), **said)  # fmt: skip


def rhythm(facts: ir.Table, now: ir.TimestampValue) -> dict[str, ir.FloatingValue]:
    """The Pareto/NBD summary of a person's active days as of ``now`` (UTC days):
    ``frequency`` (active days after the first), ``recency`` (days from the first to the
    last), ``T`` (days from the first to ``now``); null for who was never active."""
    some = facts.active_days >= 1
    none = ibis.null().cast("float64")
    first = _day(facts.first_active_at)
    return {
        "frequency": ibis.ifelse(some, (facts.active_days - 1).cast("float64"), none),
        "recency": ibis.ifelse(some, (_day(facts.last_active_at) - first).cast("float64"), none),
        "T": ibis.ifelse(some, (_day(now) - first).cast("float64"), none),
    }


#: Rows of :func:`threat_cues`: a text's first churn threat (an escalation cue of
#: :data:`~empatia.emotion.lexicon.ESCALATION_KINDS`), texts without one left out.
THREATS = pa.schema([("seq", pa.int64()), ("threat", pa.string())])


def threat_cues(batch: pa.RecordBatch) -> pa.Table:
    """A Python step (:meth:`~empatia.store.engine.Engine.map_batches`): per text
    (``seq, escalation`` as JSON text), its first cue that is a churn threat."""
    seqs, cues = [], []
    for seq, doc in zip(batch.column("seq").to_pylist(), batch.column("escalation").to_pylist(),
                        strict=True):  # fmt: skip
        try:
            items = json.loads(doc) if doc else []
        except ValueError:
            continue
        found = next((x["cue"] for x in items if isinstance(x, dict)
                      and isinstance(x.get("cue"), str) and x["cue"] in ESCALATION_KINDS), None)  # fmt: skip
        if found is not None:
            seqs.append(seq)
            cues.append(found)
    return pa.table({"seq": pa.array(seqs, pa.int64()), "threat": pa.array(cues, pa.string())})


def _text_facts(eng: Engine, cfg: ExperienceConfig, ep: ir.Table,
                until: datetime | None = None) -> ir.Table:  # fmt: skip
    """Per person: their latest threat (cue and seq), latest hurt words, latest kind words
    (``until``: of the texts by then)."""
    a = eng.table("text_analysis")
    if until is not None:
        a = a.filter(a["timestamp"] <= _ts(until))
    tx = a.join(ep, "seq").select("person_id", "seq", "score", "anger", "frustration",
                                  ts=a["timestamp"], escalation=a.escalation.cast("string"))  # fmt: skip
    esc = tx.filter(tx.escalation.notnull()).select("seq", "escalation")
    threats = eng.map_batches(esc, threat_cues, THREATS, "experience_threats")
    tx = tx.left_join(threats, "seq").drop("seq_right")
    ang = float(cfg.active_angry)
    hurt = ((tx.anger.fill_null(0) >= ang) | (tx.frustration.fill_null(0) >= ang)
            | (tx.score.fill_null(0) <= float(cfg.active_negative)))  # fmt: skip
    tx = tx.mutate(is_threat=tx.threat.notnull(), is_hurt=hurt)
    order = [tx.ts.desc(), tx.seq.desc()]
    tx = tx.mutate(
        rt=ibis.row_number().over(group_by=[tx.person_id, tx.is_threat], order_by=order),
        rh=ibis.row_number().over(group_by=[tx.person_id, tx.is_hurt], order_by=order),
    )
    last_threat = tx.is_threat & (tx.rt == 0)
    last_hurt = tx.is_hurt & (tx.rh == 0)
    return tx.group_by("person_id").aggregate(
        threat_at=tx.ts.max(where=last_threat),
        threat_cue=tx.threat.max(where=last_threat),
        threat_seq=tx.seq.max(where=last_threat),
        hurt_at=tx.ts.max(where=last_hurt),
        hurt_seq=tx.seq.max(where=last_hurt),
        kind_at=tx.ts.max(where=tx.score >= float(cfg.active_kind)),
    )


def facts_expr(eng: Engine, cfg: ExperienceConfig, texts: bool,
               people: ir.Table | None = None, until: datetime | None = None) -> ir.Table:  # fmt: skip
    """Per person (``people``: only theirs): last order, first and last activity, active
    days, latest threat, hurt and kind words — the facts columns of ``experience_activity``
    (``until``: as they stood then, for the fit of the weights on the store's past)."""
    ep = in_people(eng.table("event_persons").select("seq", "person_id"), people)
    ev = eng.table("events")
    if until is not None:
        ev = ev.filter(ev["timestamp"] <= _ts(until))
    e = ev.select("seq", "type", "event", ts=ev["timestamp"]).join(ep, "seq")
    active = e.type.isin(("page", "screen")) | e.event.isin(ACTIVE_EVENTS)
    facts = e.group_by("person_id").aggregate(
        last_order_at=e.ts.max(where=e.event == "Order Completed"),
        last_active_at=e.ts.max(where=active),
        first_active_at=e.ts.min(where=active),
        active_days=e.ts.truncate("D").nunique(where=active),
    )
    if not texts:
        at, seq, cue = (ibis.null().cast(t) for t in (e.ts.type(), "int64", "string"))
        return facts.mutate(threat_at=at, threat_cue=cue, threat_seq=seq, hurt_at=at,
                            hurt_seq=seq, kind_at=at)  # fmt: skip
    return facts.left_join(_text_facts(eng, cfg, ep, until), "person_id").drop("person_id_right")


def build_facts(eng: Engine, cfg: ExperienceConfig, texts: bool, changed: str | None) -> int:
    """Recompute the facts of the people in the temp table ``changed`` (``person_id``, on the
    engine's store cursor; ``None``: everyone), in the caller's transaction. Returns the rows
    written."""
    people = eng.table(changed) if changed else None
    where = f"person_id in (select person_id from {changed})" if changed else None
    return eng.write(facts_expr(eng, cfg, texts, people), "experience_activity", where=where)
