"""Every person's emotional trajectory over their own words: not only an average, but the
recent mood, the trend, and the lowest point (with the text it came from)."""

from __future__ import annotations

import duckdb
import ibis
import ibis.expr.types as ir

from empatia.experience._ibis import epoch, in_people
from empatia.store.engine import Engine

#: A trend (score per 30 days) beyond this is improving or worsening.
TREND_STEADY = 0.1

def trajectories_expr(eng: Engine, people: ir.Table | None = None,
                      until: ir.TimestampScalar | None = None) -> ir.Table:  # fmt: skip
    """Everyone's trajectory (``people``: a table of ``person_id``, only theirs) as an Ibis
    expression on ``eng`` (the rows of ``experience_trajectories``); ``until``: over the
    texts by then (for the fit of "still active" on the store's past).

    ``trend_per_30d`` is the least-squares slope (``covar_pop / var_pop``, as DuckDB's
    ``regr_slope``), null where time does not vary (one text)."""
    a = eng.table("text_analysis")
    if until is not None:
        a = a.filter(a["timestamp"] <= until)
    ep = in_people(eng.table("event_persons").select("seq", "person_id"), people)
    t = a.filter(a.score.notnull()).join(ep, "seq").select(
        "person_id", "seq", "score", "dominant_emotion", ts=a["timestamp"]
    )
    latest = ibis.window(group_by=t.person_id, order_by=[t.ts.desc(), t.seq.desc()])
    lowest = ibis.window(group_by=t.person_id, order_by=[t.score.asc(), t.ts.desc(), t.seq.desc()])
    # the latest emotion is the latest text's that has one (a text may have none)
    felt = ibis.window(group_by=[t.person_id, t.dominant_emotion.isnull()],
                       order_by=[t.ts.desc(), t.seq.desc()])  # fmt: skip
    t = t.mutate(rn=ibis.row_number().over(latest), lo=ibis.row_number().over(lowest),
                 re=ibis.row_number().over(felt), x=epoch(t.ts) / (30 * 86400))  # fmt: skip
    var = t.x.var(how="pop")
    g = t.group_by("person_id").aggregate(
        texts=t.count(),
        first_at=t.ts.min(),
        last_at=t.ts.max(),
        average=t.score.mean(),
        recent=t.score.mean(where=t.rn < 3),
        _cov=t.score.cov(t.x, how="pop"),
        _var=var,
        lowest=t.score.min(),
        lowest_at=t.ts.max(where=t.lo == 0),
        lowest_seq=t.seq.max(where=t.lo == 0),
        latest=t.score.max(where=t.rn == 0),
        latest_emotion=t.dominant_emotion.max(where=(t.re == 0) & t.dominant_emotion.notnull()),
    )
    g = g.mutate(trend_per_30d=ibis.ifelse(g._var > 0, g._cov / g._var, ibis.null().cast("float64"))).drop("_cov", "_var")  # noqa: SLF001
    direction = ibis.cases(
        ((g.texts < 2) | g.trend_per_30d.isnull(), "steady"),
        (g.trend_per_30d > TREND_STEADY, "improving"),
        (g.trend_per_30d < -TREND_STEADY, "worsening"),
        else_="steady",
    )
    return g.mutate(direction=direction)


def build_trajectories(eng: Engine, changed: str | None = None) -> int:
    """Rebuild ``experience_trajectories`` from ``text_analysis`` — everyone's, or only the
    people in the temp table ``changed`` (``person_id``, on the engine's store cursor) —
    in the caller's transaction; return the rows written."""
    people = eng.table(changed) if changed else None
    where = f"person_id in (select person_id from {changed})" if changed else None
    return eng.write(trajectories_expr(eng, people), "experience_trajectories", where=where)


def person_curve(con: duckdb.DuckDBPyConnection, person_id: str, limit: int = 200) -> list[dict]:
    """One person's texts over time: when, which event, sentiment and dominant emotion."""
    cur = con.cursor()
    try:
        rows = cur.execute("""
            select a.seq, a."timestamp", a.event, a.channel, a.score, a.sentiment, a.dominant_emotion
            from text_analysis a join event_persons p using (seq)
            where p.person_id = ? order by a."timestamp", a.seq limit ?
        """, [person_id, limit]).fetchall()  # fmt: skip
    finally:
        cur.close()
    keys = ("seq", "at", "event", "channel", "score", "sentiment", "emotion")
    return [dict(zip(keys, r, strict=True)) for r in rows]
