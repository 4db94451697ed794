"""The customer journey map: stages × touchpoints with volume, conversion, time, effort and
the emotion curve — for everyone, an audience, or one person.

Reads ``journey_steps`` (this stage), ``text_analysis`` (emotion: the sentiment of the
customer's words at each step) and ``experience_journeys`` (experience: contacts per case).
"""

from __future__ import annotations

from typing import Any

import duckdb

from empatia.journeys.config import StageMap
from empatia.journeys.exceptions import JourneysNotBuiltError
from empatia.journeys.funnels import PROFILE_BREAKDOWNS, _has


def _audience_sql(person_id: str | None, person_ids: list[str] | None,
                  where: dict[str, str] | None, params: dict[str, Any]) -> str:  # fmt: skip
    conds = []
    if person_id is not None:
        conds.append("person_id = $person")
        params["person"] = person_id
    if person_ids is not None:
        conds.append("person_id in (select unnest($persons))")
        params["persons"] = list(person_ids)
    for i, (col, value) in enumerate((where or {}).items()):
        if col not in PROFILE_BREAKDOWNS:
            from empatia.errors import ValidationError

            raise ValidationError(
                f"cannot filter the audience by {col!r}; use {', '.join(PROFILE_BREAKDOWNS)}",
                filter=col,
            )
        conds.append(f"person_id in (select person_id from profiles where {col}::varchar = $f{i})")
        params[f"f{i}"] = value
    return (" and " + " and ".join(conds)) if conds else ""


def journey_map(
    con: duckdb.DuckDBPyConnection,
    smap: StageMap | None = None,
    *,
    person_id: str | None = None,
    person_ids: list[str] | None = None,
    where: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Stages (in order) with their touchpoints; ``where`` filters by profile (``market=PL``)."""
    if not _has(con, "journey_steps"):
        raise JourneysNotBuiltError()
    smap = smap or StageMap.default()
    params: dict[str, Any] = {}
    aud = _audience_sql(person_id, person_ids, where, params)
    texts = _has(con, "text_analysis")
    emo_join = "left join text_analysis a on a.seq = s.seq" if texts else ""
    score = "a.score" if texts else "null::double"
    effort = "(a.n_effort > 0)::int" if texts else "null::int"
    cur = con.cursor()
    try:
        base = f"select * from journey_steps where stage is not null{aud}"
        cells = cur.execute(f"""
            select s.stage, s.channel, count(*) as events, count(distinct s.person_id) as persons,
                   avg({score}) as emotion, count({score}) as texts, avg({effort}) as effort_share
            from ({base}) s {emo_join} group by all
        """, params).fetchall()  # fmt: skip
        order_case = " ".join(f"when '{st}' then {i}" for i, st in enumerate(smap.order))
        stages = cur.execute(f"""
            with s as ({base}),
            f as (select person_id, stage, min("timestamp") as first_at,
                         case stage {order_case} end as k from s group by all),
            nxt as (select a.stage, count(*) as persons,
                           count(b.person_id) as converted,
                           median(epoch(b.first_at) - epoch(a.first_at)) as median_seconds
                    from f a left join f b on b.person_id = a.person_id and b.k = a.k + 1
                         and b.first_at >= a.first_at
                    group by a.stage)
            select n.stage, n.persons, n.converted, n.median_seconds
            from nxt n
        """, params).fetchall()  # fmt: skip
        contacts = None
        if _has(con, "experience_journeys"):
            row = cur.execute(
                f"select avg(contacts), avg(effort_score), count(*) from experience_journeys "
                f"where true{aud}", params
            ).fetchone()  # fmt: skip
            if row and row[2]:
                contacts = {"contacts_per_case": row[0], "effort_score": row[1], "cases": row[2]}
        timeline = []
        if person_id is not None:
            timeline = [
                {"seq": r[0], "at": r[1], "step": r[2], "channel": r[3], "stage": r[4],
                 "emotion": r[5]}
                for r in cur.execute(f"""
                    select s.seq, s."timestamp", s.step, s.channel, s.stage, {score}
                    from ({base}) s {emo_join} order by s."timestamp", s.seq limit 500
                """, params).fetchall()
            ]  # fmt: skip
    finally:
        cur.close()
    by_stage: dict[str, dict[str, Any]] = {}
    for st, persons, converted, med in stages:
        mine = [c for c in cells if c[0] == st and c[5]]
        n_texts = sum(c[5] for c in mine)
        by_stage[st] = {
            "persons": persons, "converted_to_next": converted, "median_seconds_to_next": med,
            "emotion": sum(c[4] * c[5] for c in mine) / n_texts if n_texts else None,
            "effort_share": sum((c[6] or 0) * c[5] for c in mine) / n_texts if n_texts else None,
        }  # fmt: skip
    out = []
    for i, st in enumerate(smap.order):
        info = by_stage.get(st, {"persons": 0, "converted_to_next": 0, "median_seconds_to_next": None,
                                 "emotion": None, "effort_share": None})  # fmt: skip
        last = i == len(smap.order) - 1
        touch = sorted(
            ({"touchpoint": c[1], "events": c[2], "persons": c[3], "emotion": c[4], "texts": c[5],
              "effort_share": c[6]} for c in cells if c[0] == st),
            key=lambda d: -d["events"],
        )  # fmt: skip
        out.append({
            "stage": st, "persons": info["persons"],
            "events": sum(t["events"] for t in touch),
            "conversion_to_next": None if last or not info["persons"]
            else info["converted_to_next"] / info["persons"],
            "median_seconds_to_next": None if last else info["median_seconds_to_next"],
            "emotion": info["emotion"], "effort_share": info["effort_share"],
            "touchpoints": touch,
        })  # fmt: skip
    if contacts:
        for s in out:
            if s["stage"] == "get help":
                s.update(contacts)
    return {
        "audience": {"person_id": person_id, "persons": len(person_ids) if person_ids else None,
                     "where": where or {}},
        "stages": out,
        "emotion_curve": [{"stage": s["stage"], "emotion": s["emotion"]} for s in out],
        "timeline": timeline,
    }  # fmt: skip
