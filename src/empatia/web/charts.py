"""Chart specifications: Vega-Lite for the browser (drawn by the vendored vega-embed), and the
Sankey of paths as plain SVG (Vega-Lite has no Sankey).

Specs carry their data inline, already aggregated: a chart never holds one row per event.

>>> spec = trajectory([{"timestamp": "2025-01-01", "score": -0.5, "sentiment": "negative",
...                     "dominant_emotion": "anger", "channel": "email"}])
>>> spec["mark"]["type"] if "mark" in spec else spec["layer"][0]["mark"]["type"]
'line'
"""

from __future__ import annotations

import html
import math
from datetime import date, datetime, timedelta
from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
MOOD_SCALE = {
    "domain": ["negative", "neutral", "positive"],
    "range": ["#a8200d", "#6b7380", "#05603a"],
}
CONFIG = {
    "font": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
    "axis": {"labelColor": "#3b4350", "titleColor": "#3b4350", "gridColor": "#e6e9ee"},
    "legend": {"labelColor": "#3b4350", "titleColor": "#3b4350", "orient": "bottom"},
    "view": {"stroke": None},
}


def _v(x: Any) -> Any:
    if isinstance(x, datetime | date):
        return x.isoformat()
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def base(values: list[dict[str, Any]], description: str, height: int = 200) -> dict[str, Any]:
    return {
        "$schema": SCHEMA, "description": description, "width": "container", "height": height,
        "autosize": {"type": "fit-x", "contains": "padding"}, "config": CONFIG,
        "data": {"values": [{k: _v(v) for k, v in r.items()} for r in values]},
    }  # fmt: skip


#: Most labels on a time axis; longer spans label every 2nd, 3rd … month.
MAX_TIME_LABELS = 8


def _months_between(values: list[Any]) -> int:
    days = sorted(v for v in (_day(x) for x in values) if v is not None)
    if not days:
        return 1
    return (days[-1].year - days[0].year) * 12 + days[-1].month - days[0].month + 1


def _day(x: Any) -> date | None:
    if isinstance(x, datetime | date):
        return x if isinstance(x, date) else None
    try:
        return date.fromisoformat(str(x)[:10])
    except ValueError:
        return None


def time_axis(values: list[Any], unit: str = "month", fmt: str | None = None) -> dict[str, Any]:
    """An x axis with one tick per ``unit`` (month or quarter) or a whole multiple of it, so
    that each period is labelled once ("Aug 2026", never "Aug 2026 Aug 2026").

    >>> time_axis(["2026-08-01", "2026-09-30"])["tickCount"]
    {'interval': 'month', 'step': 1}
    >>> time_axis([f"20{y}-01-01" for y in (24, 26)], "quarter")["tickCount"]
    {'interval': 'month', 'step': 6}
    """
    months = 3 if unit.endswith("quarter") else 1
    span = _months_between(values)
    step = months
    while span / step > MAX_TIME_LABELS:
        step += months
    axis: dict[str, Any] = {"tickCount": {"interval": "month", "step": step}, "labelOverlap": True,
                            "format": fmt or ("Q%q %Y" if months == 3 else "%b %Y")}  # fmt: skip
    return axis


def trajectory(points: list[dict[str, Any]]) -> dict[str, Any]:
    """One person's sentiment over time: every text a point, coloured by its sentiment."""
    vals = [{"at": p["timestamp"], "score": p["score"], "sentiment": p.get("sentiment") or "neutral",
             "emotion": p.get("dominant_emotion") or "", "channel": p.get("channel") or ""}
            for p in points if p.get("score") is not None]  # fmt: skip
    spec = base(vals, "The customer's sentiment over time, one point per text", 170)
    times = sorted(p["timestamp"] for p in points if isinstance(p.get("timestamp"), datetime))
    x: dict[str, Any] = {"field": "at", "type": "temporal", "title": None,
                         "axis": time_axis(times)}  # fmt: skip
    if times and (times[-1] - times[0]).days < 30:  # one text (or a few days): widen the axis
        lo, hi = times[0] - timedelta(days=30), times[-1] + timedelta(days=30)
        x["scale"] = {"domain": [lo.isoformat(), hi.isoformat()]}
        x["axis"] = time_axis([lo, hi])
    y = {"field": "score", "type": "quantitative", "title": "sentiment",
         "scale": {"domain": [-1, 1]}}  # fmt: skip
    spec["layer"] = [
        {"mark": {"type": "line", "color": "#9aa3b0"}, "encoding": {"x": x, "y": y}},
        {"mark": {"type": "rule", "color": "#c9ced6", "strokeDash": [3, 3]}, "encoding": {"y": {"datum": 0}}},
        {"mark": {"type": "point", "filled": True, "size": 70},
         "encoding": {"x": x, "y": y, "color": {"field": "sentiment", "type": "nominal",
                                                "scale": MOOD_SCALE, "title": None},
                      "shape": {"field": "channel", "type": "nominal", "legend": None},
                      "tooltip": [{"field": "at", "type": "temporal", "title": "when"},
                                  {"field": "channel"}, {"field": "emotion"},
                                  {"field": "score", "format": "+.2f"}]}},
    ]  # fmt: skip
    return spec


def lines(rows: list[dict[str, Any]], x: str, y: str, color: str, description: str,
          y_title: str, y_domain: list[float] | None = None, y_format: str = ".2f",
          time_unit: str = "yearmonth") -> dict[str, Any]:  # fmt: skip
    """Several series over time (one per ``color`` value)."""
    spec = base(rows, description, 220)
    ys: dict[str, Any] = {"field": y, "type": "quantitative", "title": y_title}
    if y_domain:
        ys["scale"] = {"domain": y_domain}
    spec["mark"] = {"type": "line", "point": True}
    spec["encoding"] = {
        "x": {"field": x, "type": "temporal", "title": None, "timeUnit": time_unit,
              "axis": time_axis([r.get(x) for r in rows], time_unit)},
        "y": ys, "color": {"field": color, "type": "nominal", "title": None},
        "tooltip": [{"field": x, "type": "temporal", "timeUnit": time_unit, "title": "period"},
                    {"field": color}, {"field": y, "format": y_format, "title": y_title},
                    {"field": "n", "title": "count"}],
    }  # fmt: skip
    return spec


def score_band(rows: list[dict[str, Any]], description: str, y_title: str,
               time_unit: str = "yearmonth") -> dict[str, Any]:  # fmt: skip
    """A score per period with its confidence interval as a band."""
    spec = base(rows, description, 160)
    x = {
        "field": "month",
        "type": "temporal",
        "timeUnit": time_unit,
        "title": None,
        "axis": time_axis([r.get("month") for r in rows], time_unit),
    }
    spec["layer"] = [
        {"mark": {"type": "area", "opacity": 0.25, "color": "#1747b8"},
         "encoding": {"x": x, "y": {"field": "ci_low", "type": "quantitative", "title": y_title},
                      "y2": {"field": "ci_high"}}},
        {"mark": {"type": "line", "point": True, "color": "#1747b8"},
         "encoding": {"x": x, "y": {"field": "score", "type": "quantitative"},
                      "tooltip": [{"field": "month", "type": "temporal", "timeUnit": time_unit,
                                   "title": "period"},
                                  {"field": "score", "format": ".1f"},
                                  {"field": "ci_low", "format": ".1f", "title": "95% low"},
                                  {"field": "ci_high", "format": ".1f", "title": "95% high"},
                                  {"field": "n", "title": "answers"}]}},
    ]  # fmt: skip
    return spec


def gap(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The company's view beside the customers' per touchpoint (shares of 'good')."""
    vals = []
    for r in rows:
        for view, field in (
            ("company's records", "company_view"),
            ("customers' words", "customer_view"),
        ):
            if r.get(field) is not None:
                vals.append({"touchpoint": r["touchpoint"], "view": view, "share": r[field],
                             "gap": r.get("gap")})  # fmt: skip
    spec = base(vals, "Share of good outcomes by the company's records and by customers' own words",
                max(120, 26 * len(rows)))  # fmt: skip
    spec["mark"] = {"type": "bar"}
    spec["encoding"] = {
        "y": {"field": "touchpoint", "type": "nominal", "title": None, "sort": None},
        "yOffset": {"field": "view"},
        "x": {"field": "share", "type": "quantitative", "axis": {"format": "%"}, "title": "share good",
              "scale": {"domain": [0, 1]}},
        "color": {"field": "view", "type": "nominal", "title": None,
                  "scale": {"range": ["#6b7380", "#1747b8"]}},
        "tooltip": [{"field": "touchpoint"}, {"field": "view"}, {"field": "share", "format": ".0%"},
                    {"field": "gap", "format": "+.0%", "title": "gap"}],
    }  # fmt: skip
    return spec


def bars(rows: list[dict[str, Any]], cat: str, val: str, description: str, *,
         color: str | None = None, fmt: str = ",.0f", label: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Horizontal bars in the given order."""
    spec = base(rows, description, max(90, 24 * len(rows)))
    enc: dict[str, Any] = {
        "y": {"field": cat, "type": "nominal", "title": None, "sort": None},
        "x": {"field": val, "type": "quantitative", "title": label or val},
        "tooltip": [{"field": cat}, {"field": val, "format": fmt}],
    }
    if color:
        enc["color"] = {"field": color, "type": "nominal", "title": None}
        enc["tooltip"].append({"field": color})
    spec["mark"] = {"type": "bar"} if color else {"type": "bar", "color": "#1747b8"}
    spec["encoding"] = enc
    return spec


def journey_heat(cells: list[dict[str, Any]], stages: list[str]) -> dict[str, Any]:
    """Stages × touchpoints: size = events, colour = average sentiment of the words there."""
    spec = base(cells, "Journey map: stages across, touchpoints down; colour is how people felt",
                max(140, 30 * len({c["touchpoint"] for c in cells})))  # fmt: skip
    spec["mark"] = {"type": "rect", "stroke": "#fff", "strokeWidth": 2}
    spec["encoding"] = {
        "x": {"field": "stage", "type": "ordinal", "sort": stages, "title": None,
              "axis": {"labelAngle": 0, "orient": "top"}},
        "y": {"field": "touchpoint", "type": "nominal", "title": None},
        "color": {"field": "emotion", "type": "quantitative", "title": "sentiment",
                  "scale": {"scheme": "redyellowgreen", "domain": [-0.6, 0.6]}},
        "tooltip": [{"field": "stage"}, {"field": "touchpoint"}, {"field": "events", "format": ","},
                    {"field": "persons", "format": ","}, {"field": "emotion", "format": "+.2f"},
                    {"field": "texts", "format": ","}],
    }  # fmt: skip
    enc = spec.pop("encoding")
    spec.pop("mark")
    xy = {"x": enc["x"], "y": enc["y"]}
    spec["layer"] = [
        {"mark": {"type": "rect", "color": "#eef1f5", "stroke": "#fff", "strokeWidth": 2},
         "encoding": {**xy, "tooltip": enc["tooltip"]}},
        {"transform": [{"filter": "datum.emotion != null"}],
         "mark": {"type": "rect", "stroke": "#fff", "strokeWidth": 2}, "encoding": enc},
        {"mark": {"type": "text", "fontSize": 10, "color": "#1b1f24"},
         "encoding": {**xy, "text": {"field": "events", "type": "quantitative", "format": "~s"}}},
    ]  # fmt: skip
    return spec


def emotion_curve(curve: list[dict[str, Any]], stages: list[str]) -> dict[str, Any]:
    spec = base([c for c in curve if c.get("emotion") is not None],
                "The emotion curve: average sentiment at each journey stage", 150)  # fmt: skip
    x = {
        "field": "stage",
        "type": "ordinal",
        "sort": stages,
        "title": None,
        "axis": {"labelAngle": 0},
        "scale": {"domain": stages},
    }
    spec["layer"] = [
        {"mark": {"type": "rule", "color": "#c9ced6", "strokeDash": [3, 3]}, "encoding": {"y": {"datum": 0}}},
        {"mark": {"type": "line", "point": {"size": 60}, "color": "#1747b8"},
         "encoding": {"x": x, "y": {"field": "emotion", "type": "quantitative", "title": "sentiment"},
                      "tooltip": [{"field": "stage"}, {"field": "emotion", "format": "+.2f"}]}},
    ]  # fmt: skip
    return spec


def funnel(steps: list[dict[str, Any]]) -> dict[str, Any]:
    vals = [{"step": f"{i + 1}. {s['step']}", "persons": s["persons"], "conversion": s["conversion"]}
            for i, s in enumerate(steps)]  # fmt: skip
    spec = base(vals, "Funnel: people reaching each step", max(100, 34 * len(vals)))
    y = {"field": "step", "type": "nominal", "sort": None, "title": None}
    spec["layer"] = [
        {"mark": {"type": "bar", "color": "#1747b8"},
         "encoding": {"y": y, "x": {"field": "persons", "type": "quantitative", "title": "people"},
                      "tooltip": [{"field": "step"}, {"field": "persons", "format": ","},
                                  {"field": "conversion", "format": ".1%"}]}},
        {"mark": {"type": "text", "align": "left", "dx": 4, "color": "#1b1f24"},
         "encoding": {"y": y, "x": {"field": "persons", "type": "quantitative"},
                      "text": {"field": "conversion", "format": ".0%"}}},
    ]  # fmt: skip
    return spec


def sankey_svg(nodes: list[dict[str, Any]], links: list[dict[str, Any]], *, width: int = 900,
               height: int = 320, label: str = "Paths") -> str:  # fmt: skip
    """A Sankey diagram as inline SVG: columns are levels, bands are people moving on."""
    if not nodes or not links:
        return ""
    levels = sorted({n["level"] for n in nodes})
    cols = {lv: [n for n in nodes if n["level"] == lv] for lv in levels}
    pad, node_w, label_w = 8, 12, 150
    usable_w = width - label_w - node_w
    step_x = usable_w / max(1, len(levels) - 1)
    scale = min(
        (height - pad * (len(c) + 1)) / max(1, sum(n["count"] for n in c)) for c in cols.values()
    )
    pos: dict[str, dict[str, float]] = {}
    for lv, col in cols.items():
        y = float(pad)
        for n in col:
            h = max(1.5, n["count"] * scale)
            pos[n["id"]] = {"x": levels.index(lv) * step_x, "y": y, "h": h, "out": y, "in": y}
            y += h + pad
    parts = [f'<svg class="sankey" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{html.escape(label)}" preserveAspectRatio="xMinYMin meet">',
             f"<title>{html.escape(label)}</title>"]  # fmt: skip
    for lk in links:
        a, b = pos.get(lk["source"]), pos.get(lk["target"])
        if a is None or b is None:
            continue
        w = max(1.0, lk["value"] * scale)
        x0, x1 = a["x"] + node_w, b["x"]
        y0, y1 = a["out"] + w / 2, b["in"] + w / 2
        a["out"] += w
        b["in"] += w
        mx = (x0 + x1) / 2
        src, dst = lk["source"].split(":", 1)[1], lk["target"].split(":", 1)[1]
        parts.append(f'<path class="link" d="M{x0:.1f},{y0:.1f} C{mx:.1f},{y0:.1f} {mx:.1f},{y1:.1f} '
                     f'{x1:.1f},{y1:.1f}" stroke-width="{w:.1f}"><title>{html.escape(src)} → '
                     f'{html.escape(dst)}: {lk["value"]:,}</title></path>')  # fmt: skip
    for n in nodes:
        p = pos[n["id"]]
        parts.append(f'<rect class="node" x="{p["x"]:.1f}" y="{p["y"]:.1f}" width="{node_w}" '
                     f'height="{p["h"]:.1f}"><title>{html.escape(n["step"])}: {n["count"]:,}</title></rect>')  # fmt: skip
        if p["h"] >= 9:
            parts.append(f'<text x="{p["x"] + node_w + 4:.1f}" y="{p["y"] + p["h"] / 2 + 4:.1f}">'
                         f'{html.escape(n["step"][:26])} ({n["count"]:,})</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)
