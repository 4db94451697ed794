"""The CX dashboard (S4–S8): how people feel and what it costs them, as pictures.

The page is a shell; each section loads on its own (htmx) from ``/dashboard/{name}``, so a
slow or missing stage never holds the others back. Without JavaScript each section's link
opens it as a page of its own. The figures come from :mod:`empatia.views.dashboard` (kept
per workspace until its data changes); this module only draws them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from empatia.views import dashboard as figures
from empatia.views.dashboard import (
    DIMENSIONS,
    FUNNEL_STEPS,
    PATH_ANCHORS,
    SECTIONS,
    Dashboard,
)
from empatia.views.sections import Section, guarded
from empatia.web import charts
from empatia.web.auth import WebKey, WebTenant, may_see_words
from empatia.web.render import render

__all__ = ["DIMENSIONS", "FUNNEL_STEPS", "PATH_ANCHORS", "SECTIONS", "router"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
_TITLES = dict(SECTIONS)


@router.get("/")
def dashboard(request: Request, key: WebKey) -> Response:
    return render(request, "dashboard.html", nav="dashboard", sections=SECTIONS)


@router.get("/dashboard/{name}")
def section(name: str, request: Request, key: WebKey, tenant: WebTenant, by: str = "channel",
            anchor: str = PATH_ANCHORS[0],
            page: Annotated[int, Query(ge=1, le=1_000_000)] = 1) -> Response:  # fmt: skip
    """One section: a fragment for htmx, or a page of its own for a plain link."""
    if name not in DRAW:
        return render(request, "dash_unknown.html", status=404, nav="dashboard", name=name,
                      sections=SECTIONS)  # fmt: skip
    params = {"by": by if by in DIMENSIONS else "channel", "anchor": anchor,
              "words": may_see_words(key), "page": page}  # fmt: skip
    sec = _figures(board_of(request, tenant), name, params)
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


def board_of(request: Request, tenant: Any) -> Dashboard:
    """The app's dashboard of the tenant's store (made on first use, kept with the app)."""
    state = request.app.state
    try:
        boards: dict[str, Dashboard] = state.dashboards
    except AttributeError:
        boards = state.dashboards = {}
    store = tenant.workspace.store
    board = boards.get(tenant.name)
    if board is None or board.store is not store:
        board = boards[tenant.name] = Dashboard(store)
    return board


def _figures(board: Dashboard, name: str, params: dict[str, Any]) -> Section:
    """The section's figures, drawn; a stage not run yet or an error becomes its message."""
    return guarded(name, lambda: DRAW[name](board.section(name, **params), params))


def _emotion(f: figures.EmotionFigures, p: dict[str, Any]) -> Section:
    unit, by = "year" + f.period, f.by
    spec = charts.lines(f.rows, "month", "score", "grp", f"Average sentiment of customers' words per {f.period} by {by}",
                        "average sentiment", [-1, 1], "+.2f", unit)  # fmt: skip
    spec_effort = charts.lines(f.rows, "month", "effort", "grp",
                               f"Share of texts describing effort (waiting, repeating, chasing) per {f.period} by {by}",
                               "share with effort", [0, 1], ".0%", unit)  # fmt: skip
    return Section(True, {**f.as_dict(), "spec": spec, "spec_effort": spec_effort})


def _effort(f: figures.EffortFigures, p: dict[str, Any]) -> Section:
    spec = charts.lines(f.rows, "month", "effort", "grp",
                        f"Average effort score of service journeys (0 easy … 1 very hard) per {f.period} by {f.by}",
                        "effort score", [0, 1], ".2f", "year" + f.period)  # fmt: skip
    return Section(True, {**f.as_dict(), "spec": spec})


def _scores(f: figures.ScoreFigures, p: dict[str, Any]) -> Section:
    specs = {}
    for kind, label in (("nps", "NPS (−100…100)"), ("csat", "CSAT % satisfied"),
                        ("ces", "CES % easy")):  # fmt: skip
        rows = f.per_period.get(kind, [])
        if len(rows) >= 3:
            specs[kind] = charts.score_band(rows, f"{label} per {f.period} with its 95% interval",
                                            label, "year" + f.period)  # fmt: skip
    return Section(True, {**f.as_dict(), "specs": specs})


def _gap(f: figures.GapFigures, p: dict[str, Any]) -> Section:
    return Section(True, {"rows": f.rows, "spec": charts.gap(f.rows)})


def _hurt(f: figures.HurtFigures, p: dict[str, Any]) -> Section:
    return Section(True, f.as_dict())


def _map(f: figures.JourneyMap, p: dict[str, Any]) -> Section:
    return Section(True, {"stages": f.stages, "heat": charts.journey_heat(f.cells, f.order),
                          "curve": charts.emotion_curve(f.curve, f.order)})  # fmt: skip


def _funnel(f: Any, p: dict[str, Any]) -> Section:
    d = f.as_dict()
    return Section(True, {**d, "spec": charts.funnel(d["steps"])})


def _paths(f: figures.PathFigures, p: dict[str, Any]) -> Section:
    if not f.occurrences:
        return Section.missing(f"Nobody has a step “{f.anchor}” yet.")
    svg = charts.sankey_svg(f.nodes, f.links,
                            label=f"What people do after “{f.anchor}”, three steps on")  # fmt: skip
    return Section(True, {**f.as_dict(), "svg": svg})


def _care(f: figures.CarePage, p: dict[str, Any]) -> Section:
    return Section(True, f.rows, extra={"total": f.total, "page": f.page, "pages": f.pages,
                                        "first": f.first})  # fmt: skip


def _decisions(f: figures.DecisionMix, p: dict[str, Any]) -> Section:
    spec = charts.bars(f.rows, "action", "persons", "How many people get which next-best action",
                       color="kind", label="people")  # fmt: skip
    return Section(True, {"rows": f.rows, "spec": spec, "total": f.total})


#: How each section is drawn from its figures.
DRAW: dict[str, Callable[[Any, dict[str, Any]], Section]] = {
    "emotion": _emotion, "effort": _effort, "scores": _scores, "gap": _gap, "hurt": _hurt,
    "map": _map, "funnel": _funnel, "paths": _paths, "care": _care, "decisions": _decisions,
}  # fmt: skip
