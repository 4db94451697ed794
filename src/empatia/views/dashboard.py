"""The CX dashboard's figures (S4–S8) as data: how people feel and what it costs them.

One function per section (:data:`SECTIONS`), each reading the stages' tables through a cursor
and returning a small typed result: the web UI draws charts from them, the API or a notebook
can use them as they are. A section whose stage has not run raises
:class:`~empatia.views.exceptions.NotProducedError` (it says which table is missing and how to
produce it), never made-up numbers.

:class:`Dashboard` keeps the figures of one store until its data changes: the cache key is
the store's :func:`data_version` (the events' high-water mark and row count, every stage's
output token, the erasures), so a pipeline run or new events show at once.

>>> from empatia.store import Store
>>> with Store(":memory:") as s:
...     Dashboard(s).section("decisions")
Traceback (most recent call last):
...
empatia.views.exceptions.NotProducedError: The decide stage has produced no rows in decisions yet: run `empatia run` after importing events.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import duckdb

from empatia.errors import ValidationError
from empatia.store import Store
from empatia.views.sections import Tables, records, table_names

__all__ = [
    "DIMENSIONS", "FUNNEL_STEPS", "PATH_ANCHORS", "SECTIONS", "CarePage", "Dashboard",
    "DecisionMix", "EffortFigures", "EmotionFigures", "GapFigures", "HurtFigures", "JourneyMap",
    "PathFigures", "ScoreFigures", "care", "data_version", "decisions", "effort", "emotion",
    "funnel", "gap", "hurt", "journey_map", "paths", "scores",
]  # fmt: skip

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
#: Rows of the special-care list on one page.
CARE_PAGE = 15
#: Below this many rows in all, series are per quarter instead of per month.
MONTHLY_FROM = 3000


def _records(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
             ) -> list[dict[str, Any]]:  # fmt: skip
    return records(cur.execute(sql, params or []))


def _period(cur: duckdb.DuckDBPyConnection, table: str) -> str:
    n = cur.execute(f"select count(*) from {table}").fetchone()
    return "month" if n and n[0] >= MONTHLY_FROM else "quarter"


def _month_groups(cur: duckdb.DuckDBPyConnection, sql: str, top: int = 6) -> list[dict[str, Any]]:
    """Rows of (month, grp, value…, n): only the ``top`` largest groups are kept."""
    rows = _records(cur, sql)
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r["grp"]] = sizes.get(r["grp"], 0) + int(r["n"])
    keep = set(sorted(sizes, key=lambda g: -sizes[g])[:top])
    return [r for r in rows if r["grp"] in keep]


def _by(by: str) -> str:
    if by not in DIMENSIONS:
        raise ValidationError(f"unknown breakdown {by!r}; use one of {', '.join(DIMENSIONS)}",
                              by=by)  # fmt: skip
    return by


@dataclass(frozen=True)
class Figures:
    """A section's figures; :meth:`as_dict` is what templates and JSON answers take."""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class EmotionFigures(Figures):
    """Sentiment per period and group (``rows``: month, grp, score, negative, effort, n)."""

    by: str
    period: str
    rows: list[dict[str, Any]]
    total: dict[str, Any]  # n, score, neg over every text


def emotion(cur: duckdb.DuckDBPyConnection, by: str = "channel") -> EmotionFigures:
    """How customers' words feel per month (or quarter) for the six largest groups of ``by``."""
    by, t = _by(by), Tables(cur)
    t.need("emotion", "text_analysis")
    if by == "market":
        t.need("profiles", "event_persons", "profiles")
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
        from {src} group by all order by month, grp""")  # fmt: skip
    total = _records(cur, "select count(*) as n, avg(score) as score,"
                          " avg((sentiment='negative')::int) as neg from text_analysis")[0]  # fmt: skip
    return EmotionFigures(by, period, rows, total)


@dataclass(frozen=True)
class EffortFigures(Figures):
    """Effort of service journeys per period and group, and per topic."""

    by: str
    period: str
    rows: list[dict[str, Any]]  # month, grp, effort, contacts, n
    topics: list[dict[str, Any]]


def effort(cur: duckdb.DuckDBPyConnection, by: str = "channel") -> EffortFigures:
    """How hard service journeys were, per period, for the six largest groups of ``by``."""
    by, t = _by(by), Tables(cur)
    t.need("experience", "experience_journeys")
    if by == "channel":
        src = "experience_journeys j"
        grp = "coalesce(split_part(j.channel_path, '>', 1), '(unknown)')"
    else:
        t.need("profiles", "profiles")
        src = "experience_journeys j left join profiles pr using (person_id)"
        grp = f"coalesce(pr.{by}, '(unknown)')"
    period = _period(cur, "experience_journeys")
    rows = _month_groups(cur, f"""
        select date_trunc('{period}', j.first_at) as month, {grp} as grp, avg(j.effort_score) as effort,
               avg(j.contacts) as contacts, count(*) as n
        from {src} where j.first_at is not null group by all order by month, grp""")  # fmt: skip
    from empatia.experience import effort_summary

    return EffortFigures(by, period, rows, effort_summary(cur, "topic")[:8])


@dataclass(frozen=True)
class ScoreFigures(Figures):
    """NPS, CSAT and CES overall, per period (by survey) and per channel, with 95% intervals."""

    period: str
    overall: list[dict[str, Any]]
    per_period: dict[str, list[dict[str, Any]]]  # survey → rows (month, score, ci_low, …)
    by_channel: list[dict[str, Any]]


def scores(cur: duckdb.DuckDBPyConnection) -> ScoreFigures:
    """The survey scores, in the order NPS, CSAT, CES."""
    Tables(cur).need("experience", "survey_responses")
    from empatia.experience import survey_scores

    order = {"nps": 0, "csat": 1, "ces": 2}
    overall = sorted(survey_scores(cur), key=lambda r: order.get(r["survey"], 9))
    period = _period(cur, "survey_responses")
    per: dict[str, list[dict[str, Any]]] = {}
    for r in survey_scores(cur, by="period", period=period):
        per.setdefault(r["survey"], []).append({"month": r["period"], **r})
    return ScoreFigures(period, overall, per, survey_scores(cur, by="channel"))


@dataclass(frozen=True)
class GapFigures(Figures):
    """The perception gap per touchpoint and ``overall`` (shares of good outcomes, 0..1)."""

    rows: list[dict[str, Any]]


def gap(cur: duckdb.DuckDBPyConnection) -> GapFigures:
    Tables(cur).need("experience", "experience_gap")
    from empatia.experience import perception_gap

    return GapFigures(perception_gap(cur))


@dataclass(frozen=True)
class HurtFigures(Figures):
    """Journeys that succeeded by the company's records but hurt the customer."""

    hurt: int
    succeeded: int
    journeys: list[dict[str, Any]]  # the worst few, with evidence (words only with ``words``)
    after: list[dict[str, Any]]  # what happened afterwards, hurt against other successes


def hurt(cur: duckdb.DuckDBPyConnection, *, words: bool = False, limit: int = 6) -> HurtFigures:
    """``words``: include customers' own words in the evidence (admin keys only)."""
    Tables(cur).need("experience", "experience_journeys")
    from empatia.experience import hurt_list, hurt_outcomes

    n = cur.execute("select count(*) filter (where succeeded_but_hurt), count(*) filter "
                    "(where internal_success) from experience_journeys").fetchone()  # fmt: skip
    return HurtFigures(n[0] if n else 0, n[1] if n else 0,
                       hurt_list(cur, limit, with_text=words), hurt_outcomes(cur))  # fmt: skip


@dataclass(frozen=True)
class JourneyMap(Figures):
    """Stages in order, each with its touchpoints; ``cells`` flattens them (stage ×
    touchpoint), ``curve`` is the average sentiment per stage."""

    stages: list[dict[str, Any]]
    order: list[str]
    cells: list[dict[str, Any]]
    curve: list[dict[str, Any]]


def journey_map(cur: duckdb.DuckDBPyConnection) -> JourneyMap:
    Tables(cur).need("journeys", "journey_steps")
    from empatia.journeys import journey_map as build, load_stage_map

    m = build(cur, load_stage_map(cur))
    cells = [{"stage": s["stage"], **tp} for s in m["stages"] for tp in s["touchpoints"]]
    return JourneyMap(m["stages"], [s["stage"] for s in m["stages"]], cells, m["emotion_curve"])


def funnel(cur: duckdb.DuckDBPyConnection, steps: list[str] | None = None,
           within_days: float = 30) -> Any:  # fmt: skip
    """People reaching each of ``steps`` (default :data:`FUNNEL_STEPS`) within
    ``within_days`` of the first: a :class:`empatia.journeys.Funnel`."""
    Tables(cur).need("journeys", "journey_steps")
    from empatia.journeys import funnel as build

    return build(cur, steps or FUNNEL_STEPS, within_days=within_days)


@dataclass(frozen=True)
class PathFigures(Figures):
    """What people do after ``anchor``, three steps on (``occurrences`` 0: nobody did it)."""

    anchor: str
    occurrences: int
    top: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    links: list[dict[str, Any]]


def paths(cur: duckdb.DuckDBPyConnection, anchor: str = PATH_ANCHORS[0]) -> PathFigures:
    Tables(cur).need("journeys", "journey_steps")
    from empatia.journeys import paths as build

    out = build(cur, anchor, direction="next", depth=3, top=6)
    return PathFigures(anchor, int(out["occurrences"]), out["top"], out["nodes"], out["links"])


@dataclass(frozen=True)
class CarePage(Figures):
    """One page of the special-care list, most urgent first."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    first: int  # the 1-based position of the page's first row


def care(cur: duckdb.DuckDBPyConnection, page: int = 1) -> CarePage:
    """Page ``page`` of the special-care list (the last page when there are fewer)."""
    t = Tables(cur)
    t.need("care", "care_list", rows=False)
    row = cur.execute("select count(*) from care_list").fetchone()
    total = int(row[0]) if row else 0
    pages = max(1, -(-total // CARE_PAGE))
    page = min(max(1, page), pages)
    joined = t.has("profiles") and t.has("care_alerts")
    rows = _records(cur, """
        select l.rank, l.person_id, l.score, l.influence, l.risk, l.value, l.explanation,
               l.alert_id, coalesce(a.status, 'open') as alert_status,
               concat_ws(' ', pr.first_name, pr.last_name) as name
        from care_list l left join care_alerts a using (alert_id)
        left join profiles pr on pr.person_id = l.person_id
        order by l.rank, l.person_id limit ? offset ?""" if joined else
        "select *, status as alert_status, null as name from care_list order by rank, person_id"
        " limit ? offset ?", [CARE_PAGE, (page - 1) * CARE_PAGE])  # fmt: skip
    return CarePage(rows, total, page, pages, (page - 1) * CARE_PAGE + 1)


@dataclass(frozen=True)
class DecisionMix(Figures):
    """How many people get which next-best action, most first."""

    rows: list[dict[str, Any]]  # action, kind, persons, fallback_share, top_reason, reasons
    total: int


def decisions(cur: duckdb.DuckDBPyConnection) -> DecisionMix:
    Tables(cur).need("decide", "decisions")
    rows = _records(cur, """
        select action, kind, count(*) as persons, avg(fallback::int) as fallback_share,
               mode(reason) as top_reason, count(distinct reason) as reasons
        from decisions group by all order by persons desc""")  # fmt: skip
    return DecisionMix(rows, sum(int(r["persons"]) for r in rows))


def data_version(cur: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """What the store's data is at now: the events' high-water mark and row count (new
    events, erasures), every stage's output token (``pipeline_state``: a run that changed
    anything) and the number of erased people. Equal versions, equal figures."""
    tables = table_names(cur)
    parts = ["(select coalesce(max(seq), 0) || ':' || count(*) from events)"
             if "events" in tables else "null"]  # fmt: skip
    parts.append("(select string_agg(stage || '=' || coalesce(token, ''), ',' order by stage)"
                 " from pipeline_state)" if "pipeline_state" in tables else "null")  # fmt: skip
    parts.append("(select count(*) from privacy_tombstones)"
                 if "privacy_tombstones" in tables else "null")  # fmt: skip
    rows = cur.execute("select " + ", ".join(parts)).fetchall()
    return tuple(rows[0]) if rows else ()


#: name → how to compute it from a cursor and the request's options.
BUILDERS: dict[str, Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], Any]] = {
    "emotion": lambda c, p: emotion(c, p.get("by", "channel")),
    "effort": lambda c, p: effort(c, p.get("by", "channel")),
    "scores": lambda c, p: scores(c),
    "gap": lambda c, p: gap(c),
    "hurt": lambda c, p: hurt(c, words=bool(p.get("words"))),
    "care": lambda c, p: care(c, int(p.get("page") or 1)),
    "map": lambda c, p: journey_map(c),
    "funnel": lambda c, p: funnel(c),
    "decisions": lambda c, p: decisions(c),
    "paths": lambda c, p: paths(c, p.get("anchor", PATH_ANCHORS[0])),
}
#: Sections read afresh every time: the special-care list changes as agents act on it.
UNCACHED = frozenset({"care"})


@dataclass
class Dashboard:
    """The dashboard of one store, each section's figures kept until the store's data
    version changes (or ``max_age`` seconds pass: a backstop for tables written outside the
    pipeline). Safe to share between request threads; one per store (an app keeps one per
    workspace it serves)."""

    store: Store
    max_age: float = 300.0
    size: int = 256
    _cache: OrderedDict[tuple[Any, ...], tuple[float, Any]] = field(
        default_factory=OrderedDict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def section(self, name: str, **options: Any) -> Any:
        """The figures of section ``name`` (:data:`SECTIONS`) with the section's ``options``
        (``by``, ``anchor``, ``words``, ``page``)."""
        if name not in BUILDERS:
            raise ValidationError(f"unknown dashboard section {name!r}; use one of "
                                  f"{', '.join(n for n, _ in SECTIONS)}", section=name)  # fmt: skip
        cur = self.store.cursor()
        try:
            if name in UNCACHED:
                return BUILDERS[name](cur, options)
            key = (name, tuple(sorted(options.items())), data_version(cur))
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.max_age:
                return hit[1]
            figures = BUILDERS[name](cur, options)
        finally:
            cur.close()
        with self._lock:
            self._cache[key] = (time.monotonic(), figures)
            self._cache.move_to_end(key)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return figures
