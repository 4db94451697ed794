"""Survey hygiene: bot-like and duplicate submissions, and survey fatigue.

Rules (thresholds in :class:`~empatia.experience.config.ExperienceConfig`):

* ``speed`` — answered faster than a person can read the question;
* ``duplicate_text`` — the same comment, word for word, from several people within an hour
  (people do write the same short thanks; bots paste it in a burst);
* ``straight_lining`` — several surveys within a minute, every answer at the scale's end;
* ``repeat_submission`` — the same person, survey and touchpoint again within the hour.

:func:`may_survey` is what the decision layer asks before sending a survey.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from empatia.errors import ConsentError
from empatia.experience._ibis import epoch
from empatia.experience.config import ExperienceConfig
from empatia.experience.stats import SCALES
from empatia.store import Store


def flags(a: ir.Table, cfg: ExperienceConfig) -> ir.Table:
    """Every answer of ``a`` (the answers being built, with ``norm_comment``) with
    ``excluded`` and ``exclude_reason`` (the reasons, comma-separated; null when clean)."""
    t = epoch(a.answered_at)
    a = a.mutate(
        _t=t,
        _who=ibis.coalesce(a.person_id, ibis.literal("seq:") + a.seq.cast("string")),
        _top=ibis.cases(*[(a.survey == s, a.score == hi) for s, (_, hi) in SCALES.items()]),
        _bottom=ibis.cases(*[(a.survey == s, a.score == lo) for s, (lo, _) in SCALES.items()]),
    )
    # the same comment, word for word, from several people …
    long = a.filter(a.norm_comment.length() >= int(cfg.duplicate_min_chars))
    dup = long.group_by("norm_comment").aggregate(people=long._who.nunique()).filter(  # noqa: SLF001
        lambda d: d.people >= int(cfg.duplicate_min_people)
    )
    # … within the window
    b = a.semi_join(dup, "norm_comment")
    dw = float(cfg.duplicate_window_seconds)
    burst = b.select(
        "seq", k_same=b.seq.count().over(group_by=b.norm_comment, order_by=b._t, range=(-dw, dw))  # noqa: SLF001
    )
    sw = float(cfg.straight_line_seconds)
    near = ibis.window(group_by=a._who, order_by=a._t, range=(-sw, sw))  # noqa: SLF001
    same = ibis.window(group_by=[a._who, a.survey, a.touchpoint.fill_null("")],  # noqa: SLF001
                       order_by=[a.answered_at, a.seq])  # fmt: skip
    w = a.mutate(
        _k=a.seq.count().over(near),
        _all_top=a._top.cast("int64").min().over(near),  # noqa: SLF001
        _all_bottom=a._bottom.cast("int64").min().over(near),  # noqa: SLF001
        _since=a._t - a._t.lag().over(same),  # noqa: SLF001
    )
    w = w.left_join(burst, "seq").drop("seq_right")
    reasons = (
        (w.duration_seconds < float(cfg.bot_min_seconds), "speed"),
        (w.k_same >= int(cfg.duplicate_min_people), "duplicate_text"),
        ((w._k >= 2) & ((w._all_top == 1) | (w._all_bottom == 1)), "straight_lining"),  # noqa: SLF001
        (w._since < float(cfg.repeat_submission_seconds), "repeat_submission"),  # noqa: SLF001
    )
    joined = ibis.literal("")
    for cond, name in reasons:
        joined = joined + ibis.ifelse(cond, ", " + name, "")
    return w.mutate(excluded=joined != "", exclude_reason=joined.substr(2).nullif("")).drop(
        "_t", "_who", "_top", "_bottom", "_k", "_all_top", "_all_bottom", "_since", "k_same"
    )


def may_survey(
    store: Store,
    person_id: str,
    now: datetime | None = None,
    cfg: ExperienceConfig | None = None,
) -> tuple[bool, str]:
    """May we send ``person_id`` a survey ``now``? Returns ``(allowed, reason)``.

    Says no without consent for the survey purpose, within ``survey_gap_days`` of the last
    survey, after ``max_surveys_90d`` surveys in 90 days, after ``ignored_in_a_row`` surveys
    ignored in a row, or while the person has a service case open (ask after it is solved).

    >>> s = Store(":memory:")
    >>> may_survey(s, "p1")
    (True, 'no survey sent to this person yet')
    """
    cfg = cfg or ExperienceConfig()
    with store.read() as cur:
        if now is None:
            row = cur.execute('select max("timestamp") from events').fetchone()
            now = row[0] if row and row[0] else datetime.now().astimezone()
        assert now is not None
        ok, why = _consent(store, person_id, cfg.consent_purpose)
        if not ok:
            return False, why
        rows = cur.execute("""
            select e.event, e."timestamp"
            from events e join event_persons p using (seq)
            where p.person_id = ? and e.type = 'track'
              and e.event in ('Survey Sent', 'Survey Answered') and e."timestamp" <= ?
            order by e."timestamp"
        """, [person_id, now]).fetchall()  # fmt: skip
        open_case = _open_case(cur, person_id, now)
    sent = [t for ev, t in rows if ev == "Survey Sent"]
    answered = [t for ev, t in rows if ev == "Survey Answered"]
    if open_case:
        return False, f"service case {open_case} is still open: ask after it is resolved"
    if sent:
        last = sent[-1]
        days = (now - last).total_seconds() / 86400
        if days < cfg.survey_gap_days:
            return False, (f"surveyed {days:.0f} days ago; wait {cfg.survey_gap_days:g} days "
                           "between surveys")  # fmt: skip
        recent = [t for t in sent if t >= now - timedelta(days=90)]
        if len(recent) >= cfg.max_surveys_90d:
            return (
                False,
                f"{len(recent)} surveys in the last 90 days (at most {cfg.max_surveys_90d})",
            )
        ignored = 0
        for t in reversed(sent):
            if any(a >= t for a in answered):
                break
            ignored += 1
        if ignored >= cfg.ignored_in_a_row:
            return False, f"ignored the last {ignored} surveys: stop asking"
        return True, f"last survey {days:.0f} days ago"
    return True, "no survey sent to this person yet"


def _consent(store: Store, person_id: str, purpose: str) -> tuple[bool, str]:
    """Privacy's one table says what a survey needs (plus the configured purpose); any failure
    to read consent refuses (fail closed)."""
    try:
        from empatia.privacy import consent
    except ImportError:  # pragma: no cover - privacy ships in the package
        return False, "consent could not be checked (privacy is missing): no survey"
    ok, why = consent.allowed(store, person_id, "survey", destination=purpose)
    return (True, "") if ok else (False, why)


def _open_case(cur: Any, person_id: str, now: datetime) -> str | None:
    """An unresolved case with activity in the last 30 days (older ones are abandoned)."""
    try:
        row = cur.execute(
            "select case_id from experience_journeys where person_id = ? and not resolved "
            "and last_at >= ? and first_at <= ? order by first_at desc limit 1",
            [person_id, now - timedelta(days=30), now],
        ).fetchone()  # fmt: skip
    except Exception:  # noqa: BLE001 - experience has not run
        return None
    return str(row[0]) if row else None


def may_survey_all(store: Store, now: datetime | None = None,
                   cfg: ExperienceConfig | None = None) -> Any:  # fmt: skip
    """:func:`may_survey` for everyone surveyed or with an open case, in one query (for the
    decision layer's batch run). Returns a DataFrame ``person_id, allowed, reason``; people
    not in it may be surveyed unless their consent says otherwise (``consent_current``)."""
    cfg = cfg or ExperienceConfig()
    with store.read() as cur:
        if now is None:
            row = cur.execute('select max("timestamp") from events').fetchone()
            now = row[0] if row and row[0] else datetime.now().astimezone()
        has = {r[0] for r in cur.execute(
            "select table_name from information_schema.tables where table_name in "
            "('experience_journeys', 'consent_current')").fetchall()}  # fmt: skip
        open_cases = (
            "select person_id, max(case_id) as open_case from experience_journeys "
            "where not resolved and last_at >= $since30 and first_at <= $now group by 1"
            if "experience_journeys" in has
            else "select null::varchar as person_id, null::varchar as open_case where false"
        )
        if "consent_current" not in has:  # fail closed: nobody may be surveyed unasked
            raise ConsentError("consent could not be checked (no consent_current view): "
                               "run `empatia run` so the privacy stage creates it")
        from empatia.privacy.consent import use_sql

        ok = use_sql("survey", "c0.person_id", destination=cfg.consent_purpose)
        consent = (f"select person_id, not ({ok}) as refused "
                   "from (select distinct person_id from consent_current) c0")
        df = cur.execute(f"""
            with s as (
                select p.person_id,
                       max(e."timestamp") filter (where e.event = 'Survey Sent') as last_sent,
                       count(*) filter (where e.event = 'Survey Sent'
                                        and e."timestamp" >= $since90) as sent_90d,
                       max(e."timestamp") filter (where e.event = 'Survey Answered') as last_answer
                from events e join event_persons p using (seq)
                where e.type = 'track' and e.event in ('Survey Sent', 'Survey Answered')
                  and e."timestamp" <= $now
                group by 1
            ), ign as (
                select p.person_id, count(*) as ignored
                from events e join event_persons p using (seq) join s using (person_id)
                where e.type = 'track' and e.event = 'Survey Sent' and e."timestamp" <= $now
                  and e."timestamp" > coalesce(s.last_answer, '-infinity'::timestamptz)
                group by 1
            ), people as (
                select person_id from s union select person_id from ({open_cases})
                union select person_id from ({consent}) where refused
            )
            select x.person_id, c.refused, o.open_case, s.last_sent, s.sent_90d,
                   coalesce(i.ignored, 0) as ignored
            from people x left join s using (person_id) left join ign i using (person_id)
                 left join ({open_cases}) o using (person_id)
                 left join ({consent}) c using (person_id)
        """, {"now": now, "since90": now - timedelta(days=90), "since30": now - timedelta(days=30)}).df()  # fmt: skip
    import pandas as pd

    df["refused"] = df["refused"].astype(object).where(df["refused"].notna(), False).astype(bool)
    df["open_case"] = df["open_case"].astype(object).where(df["open_case"].notna(), None)
    reasons, allowed = [], []
    for r in df.itertuples(index=False):
        days = None if pd.isna(r.last_sent) else (now - r.last_sent).total_seconds() / 86400
        if r.refused:
            why = f"no consent for {cfg.consent_purpose}"
        elif r.open_case is not None:
            why = f"service case {r.open_case} is still open: ask after it is resolved"
        elif days is not None and days < cfg.survey_gap_days:
            why = f"surveyed {days:.0f} days ago; wait {cfg.survey_gap_days:g} days between surveys"
        elif (r.sent_90d or 0) >= cfg.max_surveys_90d:
            why = f"{int(r.sent_90d)} surveys in the last 90 days (at most {cfg.max_surveys_90d})"
        elif r.ignored >= cfg.ignored_in_a_row:
            why = f"ignored the last {int(r.ignored)} surveys: stop asking"
        else:
            why = ""
        allowed.append(not why)
        reasons.append(why or (f"last survey {days:.0f} days ago" if days is not None
                               else "no survey sent to this person yet"))  # fmt: skip
    df["allowed"], df["reason"] = allowed, reasons
    return df[["person_id", "allowed", "reason"]]
