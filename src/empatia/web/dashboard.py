"""The CX dashboard (S4–S8): how people feel and what it costs them, as pictures.

The page is a shell; each section loads on its own (htmx) from ``/dashboard/{name}``, so a
slow or missing stage never holds the others back. Without JavaScript each section's link
opens it as a page of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from empatia.web import charts
from empatia.web.auth import WebKey, WebWorkspace, may_see_words
from empatia.web.render import render
from empatia.web.sections import Section, Tables, guarded, records

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

DIMENSIONS = ("channel", "market", "language")
FUNNEL_STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
PATH_ANCHORS = [
    "Case Opened",
    "Support Contact",
    "Order Completed",
    "Checkout Started",
    "Product Viewed",
]
#: (name, title) in page order.
SECTIONS = (
    ("emotion", "Emotion over time"), ("effort", "Effort over time"),
    ("scores", "NPS, CSAT and CES"), ("gap", "The perception gap"),
    ("hurt", "Succeeded, but hurt"), ("care", "Special care"),
    ("map", "Journey map"), ("funnel", "Funnel"), ("decisions", "Decision mix"),
    ("paths", "Paths"),
)  # fmt: skip
_TITLES = dict(SECTIONS)


@router.get("/")
def dashboard(request: Request, key: WebKey) -> Response:
    return render(request, "dashboard.html", nav="dashboard", sections=SECTIONS)


#: Rows of the special-care list on one page.
CARE_PAGE = 15


@router.get("/dashboard/{name}")
def section(name: str, request: Request, key: WebKey, ws: WebWorkspace, by: str = "channel",
            anchor: str = PATH_ANCHORS[0],
            page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:  # fmt: skip
    """One section: a fragment for htmx, or a page of its own for a plain link."""
    if name not in BUILDERS:
        return render(request, "dash_unknown.html", status=404, nav="dashboard", name=name,
                      sections=SECTIONS)  # fmt: skip
    params = {"by": by if by in DIMENSIONS else "channel", "anchor": anchor,
              "words": may_see_words(key), "page": page}  # fmt: skip
    cur = ws.store.cursor()
    try:
        t = Tables(cur)
        key_ = (id(ws.store), name, params["by"], params["anchor"], params["words"], page,
                _stamp(cur, t))  # fmt: skip
        hit = _CACHE.get(key_)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS and name != "care":
            sec = hit[1]
        else:
            sec = guarded(name, lambda: BUILDERS[name](cur, t, params))
            if sec.ok:
                _CACHE[key_] = (time.monotonic(), sec)
                while len(_CACHE) > 256:
                    _CACHE.pop(next(iter(_CACHE)))
    finally:
        cur.close()
    ctx: dict[str, Any]
    ctx = {"s": sec, "name": name, "title": _TITLES[name], "p": params, "dims": DIMENSIONS,
           "anchors": PATH_ANCHORS}  # fmt: skip
    template = f"dash/{name}.html" if request.headers.get("hx-request") else "dash_page.html"
    try:
        return render(request, template, nav="dashboard", **ctx)
    except Exception as e:  # noqa: BLE001 - odd data in one section must not be a 500
        log.exception("web dashboard section %s could not be drawn", name)
        ctx["s"] = Section.missing(f"This section could not be drawn ({type(e).__name__}).")
        return render(request, template, nav="dashboard", **ctx)


#: Below this many rows in all, series are drawn per quarter instead of per month.
MONTHLY_FROM = 3000


def _period(cur: duckdb.DuckDBPyConnection, table: str) -> str:
    n = cur.execute(f"select count(*) from {table}").fetchone()
    return "month" if n and n[0] >= MONTHLY_FROM else "quarter"


#: Sections are kept this long, and only while the row counts of what they read stay the same.
CACHE_SECONDS = 300.0
_CACHE: dict[tuple[Any, ...], tuple[float, Section]] = {}
_STAMPED = ("events", "text_analysis", "experience_journeys", "survey_responses", "experience_gap",
            "journey_steps", "decisions", "profiles", "care_alerts")  # fmt: skip


def _stamp(cur: duckdb.DuckDBPyConnection, t: Tables) -> tuple[int, ...]:
    """Row counts of the tables sections read (counts are kept by DuckDB: cheap)."""
    present = [n for n in _STAMPED if t.has(n)]
    if not present:
        return ()
    row = cur.execute(
        "select " + ", ".join(f'(select count(*) from "{n}")' for n in present)
    ).fetchone()
    return tuple(int(v) for v in row or ())


def _month_groups(
    cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any], top: int = 6
) -> list[dict[str, Any]]:
    """Rows of (month, grp, value, n): only the ``top`` largest groups are kept."""
    rows = records(cur.execute(sql, params))
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r["grp"]] = sizes.get(r["grp"], 0) + int(r["n"])
    keep = set(sorted(sizes, key=lambda g: -sizes[g])[:top])
    return [r for r in rows if r["grp"] in keep]


def _emotion(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("emotion", "text_analysis")
    if not need.ok:
        return need
    by = p["by"]
    if by == "market":
        if not (t.has("event_persons") and t.has("profiles")):
            return t.need("profiles", "event_persons", "profiles")
        src = ("text_analysis a join event_persons ep using (seq) "
               "join profiles pr on pr.person_id = ep.person_id")  # fmt: skip
        grp = "coalesce(pr.market, '(unknown)')"
    else:
        src, grp = "text_analysis a", f"coalesce(a.{by}, '(unknown)')"
    period = _period(cur, "text_analysis")
    rows = _month_groups(cur, f"""
        select date_trunc('{period}', a."timestamp") as month, {grp} as grp, avg(a.score) as score,
               avg((a.sentiment = 'negative')::int) as negative, avg((a.n_effort > 0)::int) as effort,
               count(*) as n
        from {src} group by all order by month, grp""", [])  # fmt: skip
    unit = "year" + period
    spec = charts.lines(rows, "month", "score", "grp", f"Average sentiment of customers' words per {period} by {by}",
                        "average sentiment", [-1, 1], "+.2f", unit)  # fmt: skip
    spec_neg = charts.lines(rows, "month", "effort", "grp",
                            f"Share of texts describing effort (waiting, repeating, chasing) per {period} by {by}",
                            "share with effort", [0, 1], ".0%", unit)  # fmt: skip
    total = records(
        cur.execute(
            "select count(*) as n, avg(score) as score, avg((sentiment='negative')::int) as neg from text_analysis"
        )
    )[0]
    return Section(True, {"rows": rows, "spec": spec, "spec_effort": spec_neg, "total": total,
                          "period": period})  # fmt: skip


def _effort(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("experience", "experience_journeys")
    if not need.ok:
        return need
    by = p["by"]
    if by == "channel":
        src, grp = (
            "experience_journeys j",
            "coalesce(split_part(j.channel_path, '>', 1), '(unknown)')",
        )
    else:
        if not t.has("profiles"):
            return t.need("profiles", "profiles")
        src = "experience_journeys j left join profiles pr using (person_id)"
        grp = f"coalesce(pr.{by}, '(unknown)')"
    period = _period(cur, "experience_journeys")
    rows = _month_groups(cur, f"""
        select date_trunc('{period}', j.first_at) as month, {grp} as grp, avg(j.effort_score) as effort,
               avg(j.contacts) as contacts, count(*) as n
        from {src} where j.first_at is not null group by all order by month, grp""", [])  # fmt: skip
    spec = charts.lines(rows, "month", "effort", "grp",
                        f"Average effort score of service journeys (0 easy … 1 very hard) per {period} by {by}",
                        "effort score", [0, 1], ".2f", "year" + period)  # fmt: skip
    from empatia.experience import effort_summary

    return Section(True, {"rows": rows, "spec": spec, "period": period,
                          "topics": effort_summary(cur, "topic")[:8]})  # fmt: skip


def _scores(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("experience", "survey_responses")
    if not need.ok:
        return need
    from empatia.experience import survey_scores

    order = {"nps": 0, "csat": 1, "ces": 2}
    overall = sorted(survey_scores(cur), key=lambda r: order.get(r["survey"], 9))
    period = _period(cur, "survey_responses")
    monthly = survey_scores(cur, by="period", period=period)
    specs = {}
    for kind, label in (
        ("nps", "NPS (−100…100)"),
        ("csat", "CSAT % satisfied"),
        ("ces", "CES % easy"),
    ):
        rows = [{"month": r["period"], **r} for r in monthly if r["survey"] == kind]
        if len(rows) >= 3:
            specs[kind] = charts.score_band(rows, f"{label} per {period} with its 95% interval", label,
                                            "year" + period)  # fmt: skip
    by_channel = survey_scores(cur, by="channel")
    return Section(True, {"overall": overall, "specs": specs, "by_channel": by_channel,
                          "period": period})  # fmt: skip


def _gap(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("experience", "experience_gap")
    if not need.ok:
        return need
    from empatia.experience import perception_gap

    rows = perception_gap(cur)
    return Section(True, {"rows": rows, "spec": charts.gap(rows)})


def _hurt(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("experience", "experience_journeys")
    if not need.ok:
        return need
    from empatia.experience import hurt_list, hurt_outcomes

    n = cur.execute("select count(*) filter (where succeeded_but_hurt), count(*) filter "
                    "(where internal_success) from experience_journeys").fetchone()  # fmt: skip
    return Section(True, {"journeys": hurt_list(cur, 6, with_text=p["words"]),
                          "after": hurt_outcomes(cur), "hurt": n[0] if n else 0,
                          "succeeded": n[1] if n else 0})  # fmt: skip


def _map(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("journeys", "journey_steps")
    if not need.ok:
        return need
    from empatia.journeys import journey_map, load_stage_map

    m = journey_map(cur, load_stage_map(cur))
    order = [s["stage"] for s in m["stages"]]
    cells = [{"stage": s["stage"], **tp} for s in m["stages"] for tp in s["touchpoints"]]
    return Section(True, {"stages": m["stages"], "heat": charts.journey_heat(cells, order),
                          "curve": charts.emotion_curve(m["emotion_curve"], order)})  # fmt: skip


def _funnel(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("journeys", "journey_steps")
    if not need.ok:
        return need
    from empatia.journeys import funnel

    f = funnel(cur, FUNNEL_STEPS, within_days=30).as_dict()
    return Section(True, {**f, "spec": charts.funnel(f["steps"])})


def _paths(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("journeys", "journey_steps")
    if not need.ok:
        return need
    from empatia.journeys import paths

    out = paths(cur, p["anchor"], direction="next", depth=3, top=6)
    if not out["occurrences"]:
        return Section.missing(f"Nobody has a step “{p['anchor']}” yet.")
    svg = charts.sankey_svg(out["nodes"], out["links"],
                            label=f"What people do after “{p['anchor']}”, three steps on")  # fmt: skip
    return Section(True, {**out, "svg": svg})


def _care(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    if not t.has("care_list"):
        return t.need("care", "care_list")
    total = int(cur.execute("select count(*) from care_list").fetchone()[0])  # type: ignore[index]
    pages = max(1, -(-total // CARE_PAGE))
    page = min(int(p.get("page") or 1), pages)
    rows = records(cur.execute("""
        select l.rank, l.person_id, l.score, l.influence, l.risk, l.value, l.explanation,
               l.alert_id, coalesce(a.status, 'open') as alert_status,
               concat_ws(' ', pr.first_name, pr.last_name) as name
        from care_list l left join care_alerts a using (alert_id)
        left join profiles pr on pr.person_id = l.person_id
        order by l.rank, l.person_id limit ? offset ?""" if t.has("profiles") and t.has("care_alerts") else
        "select *, status as alert_status, null as name from care_list order by rank, person_id"
        " limit ? offset ?", [CARE_PAGE, (page - 1) * CARE_PAGE]))  # fmt: skip
    return Section(True, rows, extra={"total": total, "page": page, "pages": pages,
                                      "first": (page - 1) * CARE_PAGE + 1})  # fmt: skip


def _decisions(cur: duckdb.DuckDBPyConnection, t: Tables, p: dict[str, Any]) -> Section:
    need = t.need("decide", "decisions")
    if not need.ok:
        return need
    rows = records(cur.execute("""
        select action, kind, count(*) as persons, avg(fallback::int) as fallback_share,
               mode(reason) as top_reason, count(distinct reason) as reasons
        from decisions group by all order by persons desc"""))  # fmt: skip
    spec = charts.bars(rows, "action", "persons", "How many people get which next-best action",
                       color="kind", label="people")  # fmt: skip
    return Section(True, {"rows": rows, "spec": spec, "total": sum(r["persons"] for r in rows)})


BUILDERS: dict[str, Callable[[duckdb.DuckDBPyConnection, Tables, dict[str, Any]], Section]] = {
    "emotion": _emotion, "effort": _effort, "scores": _scores, "gap": _gap, "hurt": _hurt,
    "map": _map, "funnel": _funnel, "paths": _paths, "care": _care, "decisions": _decisions,
}  # fmt: skip
