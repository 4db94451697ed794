"""Read-side queries for the CLI, HTTP API and web UI: lists and summaries of the stage's tables."""

from __future__ import annotations

from typing import Any

import duckdb
import orjson

from empatia.errors import NotFoundError, ValidationError


def _records(df: Any) -> list[dict[str, Any]]:
    return df.astype(object).where(df.notna(), None).to_dict("records")  # type: ignore[no-any-return]


def _words(
    cur: duckdb.DuckDBPyConnection, seqs: list[int], with_text: bool
) -> dict[int, dict[str, Any]]:
    """The customer's own words (text only when the viewer may read it), with their sentiment."""
    if not seqs:
        return {}
    text = ("coalesce(json_extract_string(e.raw, '$.properties.text'), "
            "json_extract_string(e.raw, '$.properties.comment'))" if with_text else "null")  # fmt: skip
    has_ta = bool(cur.execute(
        "select count(*) from information_schema.tables where table_name = 'text_analysis'"
    ).fetchone()[0])  # type: ignore[index]  # fmt: skip
    ta = "a.score, a.dominant_emotion, a.language" if has_ta else "null, null, null"
    join = "left join text_analysis a using (seq)" if has_ta else ""
    rows = cur.execute(f"""
        select e.seq, e."timestamp", e.event, {text}, {ta}
        from events e {join} where e.seq in (select unnest(?))
    """, [seqs]).fetchall()  # fmt: skip
    return {int(r[0]): {"seq": int(r[0]), "at": r[1], "event": r[2], "text": r[3], "score": r[4],
                        "emotion": r[5], "language": r[6]} for r in rows}  # fmt: skip


def hurt_list(con: duckdb.DuckDBPyConnection, limit: int = 50, *, with_text: bool = True,
              person_id: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Journeys that succeeded by the company's records but hurt the customer, worst first,
    each with the numbers and the customer's own words as evidence."""
    cur = con.cursor()
    try:
        where = "succeeded_but_hurt" + (" and person_id = ?" if person_id else "")
        df = cur.execute(f"""
            select person_id, case_id, topic, first_at, last_at, contacts, channel_switches,
                   channel_path, transfers, round(wait_seconds / 60) as wait_minutes,
                   round(live_wait_seconds / 60) as live_wait_minutes, resolution_days,
                   resolution, internal_success, self_rating, last_score, min_score, effort_score,
                   hurt_reasons, evidence_seqs, bought_after, left_after, public_after
            from experience_journeys where {where}
            order by effort_score desc, coalesce(last_score, 0), last_at desc limit ?
        """, ([person_id] if person_id else []) + [limit]).df()  # fmt: skip
        rows = _records(df)
        seqs = [int(s) for r in rows for s in (r.pop("evidence_seqs") or "").split(",") if s]
        words = _words(cur, seqs, with_text)
    finally:
        cur.close()
    for r, evidence in zip(rows, _split(df), strict=True):
        r["evidence"] = [words[s] for s in evidence if s in words]
        if not with_text:
            for w in r["evidence"]:
                w.pop("text", None)
    return rows


def _split(df: Any) -> list[list[int]]:
    return [[int(s) for s in (v or "").split(",") if s] for v in df["evidence_seqs"].tolist()]


def hurt_outcomes(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """What happened after: hurt journeys against other successful ones."""
    cur = con.cursor()
    try:
        df = cur.execute("""
            select case when succeeded_but_hurt then 'succeeded but hurt' else 'succeeded' end as journeys,
                   count(*) as n, avg(bought_after::int) as bought_again,
                   avg(left_after::int) as left, avg(public_after::int) as complained_publicly
            from experience_journeys where resolved and internal_success group by 1 order by 1 desc
        """).df()  # fmt: skip
    finally:
        cur.close()
    return _records(df)


def effort_summary(con: duckdb.DuckDBPyConnection, by: str = "topic") -> list[dict[str, Any]]:
    """Effort per service journey, summarised per topic / resolution / first channel."""
    dims = {"topic": "topic", "resolution": "coalesce(resolution, 'open')",
            "channel": "split_part(channel_path, '>', 1)", "all": "'all'"}  # fmt: skip
    if by not in dims:
        raise ValidationError(f"cannot summarise effort by {by!r}; use {', '.join(dims)}", by=by)
    cur = con.cursor()
    try:
        df = cur.execute(f"""
            select {dims[by]} as {by}, count(*) as journeys,
                   avg(contacts) as contacts, median(contacts) as median_contacts,
                   avg(steps) as steps, avg(channel_switches) as channel_switches,
                   avg(transfers) as transfers, median(wait_seconds) / 60 as median_wait_minutes,
                   avg(repeat_contact::int) as repeat_share,
                   median(resolution_days) as median_days_to_resolve,
                   count(*) filter (where not resolved) as open,
                   median(unresolved_age_days) as median_open_age_days,
                   avg(effort_score) as effort_score,
                   avg(succeeded_but_hurt::int) as hurt_share
            from experience_journeys group by 1 order by journeys desc
        """).df()  # fmt: skip
    finally:
        cur.close()
    return _records(df)


def trajectory(con: duckdb.DuckDBPyConnection, person_id: str) -> dict[str, Any]:
    from empatia.experience.mood import person_curve

    cur = con.cursor()
    try:
        df = cur.execute(
            "select * from experience_trajectories where person_id = ?", [person_id]
        ).df()
    finally:
        cur.close()
    if df.empty:
        raise NotFoundError(f"no words from {person_id} yet (or `empatia run` has not run)",
                            person_id=person_id)  # fmt: skip
    out = _records(df)[0]
    out["curve"] = person_curve(con, person_id)
    return out


def trajectories(con: duckdb.DuckDBPyConnection, direction: str | None = None,
                 limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
    """People by emotional trajectory, the most worrying first (low recent mood, falling)."""
    if direction not in (None, "improving", "worsening", "steady"):
        raise ValidationError(
            "direction must be improving, worsening or steady", direction=direction
        )
    cur = con.cursor()
    try:
        df = cur.execute(
            "select * from experience_trajectories where (? is null or direction = ?)"
            " order by recent, trend_per_30d limit ?", [direction, direction, limit],
        ).df()  # fmt: skip
    finally:
        cur.close()
    return _records(df)


def to_json(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def touchpoints(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """How people feel at each text touchpoint (event × channel): the emotion stage's scores,
    summarised — mean sentiment, share negative, the most common emotion, effort cues."""
    cur = con.cursor()
    try:
        has = cur.execute(
            "select count(*) from information_schema.tables where table_name = 'text_analysis'"
        ).fetchone()
        if not has or not has[0]:
            return []
        df = cur.execute("""
            select event, coalesce(channel, 'unknown') as channel, count(*) as texts,
                   avg(score) as emotion, avg((sentiment = 'negative')::int) as negative_share,
                   mode(dominant_emotion) as top_emotion, avg((n_effort > 0)::int) as effort_share
            from text_analysis group by all order by texts desc
        """).df()  # fmt: skip
    finally:
        cur.close()
    return _records(df)


def hurt_orders(con: duckdb.DuckDBPyConnection, limit: int = 50, *, days: float = 30,
                with_text: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Orders the company's records call delivered after which the customer's words were bad
    within ``days``: a review rated 1–2, or a negative text (emotion stage), with the words."""
    has_ta = bool(con.execute(
        "select count(*) from information_schema.tables where table_name = 'text_analysis'"
    ).fetchone()[0])  # type: ignore[index]  # fmt: skip
    neg = "or (a.sentiment = 'negative' and a.score <= -0.2)" if has_ta else ""
    join = "left join text_analysis a on a.seq = w.seq" if has_ta else ""
    cur = con.cursor()
    try:
        df = cur.execute(f"""
            with d as (
                select p.person_id, json_extract_string(e.raw, '$.properties.order_id') as order_id,
                       e."timestamp" as delivered_at
                from events e join event_persons p using (seq)
                where e.type = 'track' and e.event = 'Order Delivered'
            ), w as (
                select p.person_id, e.seq, e."timestamp" as at, e.event,
                       try_cast(json_extract_string(e.raw, '$.properties.rating') as double) as rating
                from events e join event_persons p using (seq)
                where e.type = 'track' and e.event in ('Review Submitted', 'Message Sent',
                      'Call Transcribed', 'Survey Answered')
            ), bad as (
                select w.* from w {join} where w.rating <= 2 {neg}
            )
            select d.person_id, d.order_id, d.delivered_at, min(b.rating) as worst_rating,
                   string_agg(b.seq::varchar, ',' order by b.at) as evidence_seqs
            from d join bad b on b.person_id = d.person_id and b.at > d.delivered_at
                 and b.at <= d.delivered_at + to_days({int(days)})
            group by all order by d.delivered_at desc limit ?
        """, [limit]).df()  # fmt: skip
        rows = _records(df)
        seqs = [int(s) for r in rows for s in (r["evidence_seqs"] or "").split(",") if s]
        words = _words(cur, seqs[:1000], with_text)
    finally:
        cur.close()
    for r in rows:
        ev = [int(s) for s in (r.pop("evidence_seqs") or "").split(",") if s]
        r["evidence"] = [words[s] for s in ev if s in words]
        if not with_text:
            for w in r["evidence"]:
                w.pop("text", None)
    return rows
