"""Rendering pages: one Jinja2 environment, formatting filters, gzip when the browser takes it.

Pages are compressed here (the app has no compression middleware) so that a dashboard full of
chart data stays light on the wire.
"""

from __future__ import annotations

import gzip
import math
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from markupsafe import Markup

from empatia.views.timeline import duration_words
from empatia.web.security import session_token
from empatia.web.static import asset_url

#: Bodies smaller than this go out uncompressed (not worth the CPU).
GZIP_MIN_BYTES = 1400


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _float(v: Any) -> float | None:
    """``v`` as a finite number, or ``None`` when it is not one (``"forty"``, ``inf``, ``{}``)."""
    if isinstance(v, bool | Undefined):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def invalid(v: Any) -> str:
    """How a value that should be a number but is not is shown: said, never hidden or fatal.

    >>> invalid("forty")
    "invalid: 'forty'"
    """
    return f"invalid: {str(v)[:40]!r}"


def fmt_num(v: Any, digits: int = 0) -> str:
    """``1234.6`` → ``1,235``; missing → an en dash; not a number → said so.

    >>> fmt_num(1234.6), fmt_num(None), fmt_num("forty")
    ('1,235', '–', "invalid: 'forty'")
    """
    if _missing(v):
        return "–"
    f = _float(v)
    return invalid(v) if f is None else f"{f:,.{digits}f}"


def fmt_pct(v: Any, digits: int = 0) -> str:
    """A share in 0..1 as a percentage."""
    if _missing(v):
        return "–"
    f = _float(v)
    return invalid(v) if f is None else f"{f * 100:.{digits}f}%"


def fmt_money(v: Any, currency: Any = None) -> str:
    """An amount with its currency code, never a bare number (amounts in different currencies
    must not look alike); missing → an en dash; not a number → said so.

    >>> fmt_money(1234.5, "eur"), fmt_money(3, None), fmt_money("forty", "PLN")
    ('1,234.50 EUR', '3.00 (currency unknown)', "invalid: 'forty'")
    """
    if _missing(v):
        return "–"
    f = _float(v)
    if f is None:
        return invalid(v)
    code = str(currency).strip().upper()[:10] if isinstance(currency, str) else ""
    return f"{f:,.2f} {code or '(currency unknown)'}"


def fmt_date(v: Any) -> str:
    if _missing(v) or v == "":
        return "–"
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)[:10]


def fmt_time(v: Any) -> str:
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return fmt_date(v)


def fmt_days(v: Any) -> str:
    """A number of days in words: ``3 days``, ``5 months``, ``2.1 years``."""
    if _missing(v):
        return "–"
    d = _float(v)
    if d is None:
        return invalid(v)
    if abs(d) < 1:
        return "today"
    if abs(d) < 60:
        return f"{d:.0f} day{'s' if round(abs(d)) != 1 else ''}"
    if abs(d) < 730:
        return f"{d / 30.44:.0f} months"
    return f"{d / 365.25:.1f} years"


def fmt_ago(v: Any) -> str:
    """Days before now in words: ``today``, ``3 days ago``.

    >>> fmt_ago(0.2), fmt_ago(3)
    ('today', '3 days ago')
    """
    words = fmt_days(v)
    return words if words in ("today", "–") else f"{words} ago"


def fmt_duration(seconds: Any) -> str:
    """Seconds in the unit a person would use: ``41 min``, ``5.2 h``, ``6.1 days``."""
    if _missing(seconds):
        return "–"
    s = _float(seconds)
    return invalid(seconds) if s is None else duration_words(s)


def mood(score: Any) -> str:
    """A CSS class for a sentiment score in [-1, 1]."""
    s = _float(score)
    if s is None:
        return "mood-none"
    return "mood-neg" if s <= -0.25 else "mood-pos" if s >= 0.25 else "mood-neu"


def to_json(v: Any) -> Markup:
    """JSON safe to put inside ``<script type="application/json">``."""
    text = orjson.dumps(v, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("empatia.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, pct=fmt_pct, money=fmt_money, date=fmt_date, time=fmt_time,
                       days=fmt_days, ago=fmt_ago, duration=fmt_duration, mood=mood, json=to_json)  # fmt: skip
    env.globals["asset"] = asset_url
    return env


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """Render ``template`` with ``context`` (plus the request, the signed-in key, the session's
    CSRF token and the path of the page the browser shows, for forms to come back to)."""
    key = getattr(request.state, "key", None)
    primary = getattr(getattr(request.state, "tenant", None), "primary_elsewhere", None)
    html = environment().get_template(template).render(
        request=request, key=key, csrf=session_token(request.scope), page_path=page_path(request),
        primary_elsewhere=primary, **context,
    )  # fmt: skip
    return html_response(request, html, status)


def page_path(request: Request) -> str:
    """The path of the page in the browser (for an htmx fragment, the page around it)."""
    current = request.headers.get("hx-current-url") if request.headers.get("hx-request") else None
    if current:
        return urlsplit(current).path or "/"
    return request.url.path if request.method == "GET" else "/"


def html_response(request: Request, html: str, status: int = 200) -> Response:
    body = html.encode()
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return Response(body, status_code=status, media_type="text/html; charset=utf-8",
                    headers=headers)  # fmt: skip
