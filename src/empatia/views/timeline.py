"""One person's events as a readable timeline, and their purchases.

Contacts (orders, support, messages, calls, reviews, surveys, bookings, consent) are shown
one by one with the customer's own words; browsing (pages, screens, product views) is folded
into one line per day and channel, so the contacts stay visible.

>>> ev = [{"seq": 1, "timestamp": None, "type": "track", "event": "Review Submitted", "name": None,
...        "raw": {"properties": {"text": "Great!", "rating": 5}, "context": {"channel": "web"}}}]
>>> row = build_timeline(ev, {})[0]
>>> row["title"], row["channel"], row["detail"], row["words"]["text"]
('Review Submitted', 'web', 'rating 5/5', 'Great!')
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from datetime import datetime
from typing import Any, cast


log = logging.getLogger(__name__)


def duration_words(seconds: float) -> str:
    """Seconds in the unit a person would use: ``41 min``, ``5.2 h``, ``6.1 days``.

    >>> duration_words(2460), duration_words(18720), duration_words(527040)
    ('41 min', '5.2 h', '6.1 days')
    """
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"

BROWSING_EVENTS = {"Product Viewed", "Product Added", "Product Removed", "Products Searched"}
BROWSING_TYPES = {"page", "screen", "identify", "alias", "group"}


def obj(v: Any) -> dict[str, Any]:
    """``v`` when it is a JSON object, else an empty one (a sender may put anything there)."""
    return v if isinstance(v, dict) else {}


def items_of(p: dict[str, Any]) -> list[dict[str, Any]]:
    """An order's products that are objects (``products`` may be missing or malformed)."""
    items = p.get("products")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def number(v: Any) -> float | None:
    """``v`` as a finite number, or ``None`` when it is not one (``"forty"``, ``true``, ``{}``).

    >>> number(42), number("42.5"), number("forty"), number(True), number(None)
    (42.0, 42.5, None, None, None)
    """
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None
    try:
        f = float(v)
    except (ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def channel_of(raw: dict[str, Any]) -> str:
    ctx = obj(raw.get("context"))
    props = obj(raw.get("properties"))
    return str(ctx.get("channel") or props.get("channel") or ctx.get("source") or "unknown")


def _money(v: Any, cur: Any) -> str:
    if v is None:
        return ""
    f = number(v)
    if f is None:
        return f"invalid amount {str(v)[:40]!r}"
    return f"{f:,.2f} {cur if isinstance(cur, str) else ''}".strip()


def describe(event: str | None, p: dict[str, Any]) -> str:
    """A short line about a contact, from its properties (never the free text)."""
    bits: list[str] = []
    if event == "Order Completed":
        items = items_of(p)
        cats = sorted({str(i.get("category")) for i in items if i.get("category")})
        bits = [str(p.get("order_id") or ""), _money(p.get("total"), p.get("currency")),
                f"{len(items)} item{'s' if len(items) != 1 else ''}" if items else "",
                ", ".join(cats[:4])]  # fmt: skip
    elif event and event.startswith(("Order ", "Product Returned")):
        bits = [
            str(p.get("order_id") or ""),
            _money(p.get("amount") or p.get("total"), p.get("currency")),
        ]
    elif event == "Support Contact":
        wait = p.get("wait_seconds")
        bits = [str(p.get("case_id") or ""), str(p.get("channel") or ""),
                f"topic {p['topic']}" if p.get("topic") else "",
                f"waited {duration_words(w)}" if (w := number(wait)) is not None else "",
                "transferred" if p.get("transferred") else ""]  # fmt: skip
    elif event in ("Case Opened", "Case Resolved"):
        bits = [str(p.get("case_id") or ""), f"topic {p['topic']}" if p.get("topic") else "",
                str(p.get("resolution") or "")]  # fmt: skip
    elif event == "Survey Answered":
        bits = [str(p.get("survey") or p.get("type") or "").upper(),
                f"score {p['score']}" if p.get("score") is not None else "",
                str(p.get("touchpoint") or "")]  # fmt: skip
    elif event == "Review Submitted":
        bits = [f"rating {p['rating']}/5" if p.get("rating") is not None else "",
                "public" if p.get("public") is False else ""]  # fmt: skip
    elif event and event.startswith("Booking"):
        bits = [
            str(p.get("booking_id") or ""),
            str(p.get("route") or ""),
            str(p.get("status") or ""),
        ]
    elif event == "Consent Updated":
        what = p.get("purpose") or p.get("category") or ""
        ch = p.get("channel")
        granted = p.get("granted")
        bits = [f"{what}{' ' + str(ch) if ch else ''}",
                "granted" if granted is True else "withdrawn" if granted is False else ""]  # fmt: skip
    elif event in ("Message Sent", "Call Transcribed"):
        dur = p.get("duration_seconds")
        bits = [str(p.get("case_id") or ""),
                f"{cast(float, number(dur)) / 60:.0f} min call"
                if number(dur) is not None else ""]  # fmt: skip
    return " · ".join(b for b in bits if b)


def _detail(event: str | None, p: dict[str, Any]) -> str:
    """:func:`describe`, or a plain note when an event's properties are too odd to describe
    (one odd event never takes the whole timeline down)."""
    try:
        return describe(event, p)
    except Exception:  # noqa: BLE001
        log.warning("web timeline: could not describe a %s event", event)
        return "(details not shown: unexpected values)"


def words_of(p: dict[str, Any]) -> str | None:
    """The customer's own words, read as the emotion stage reads them (a string ``text``,
    else a string ``comment``)."""
    for k in ("text", "comment"):
        w = p.get(k)
        if isinstance(w, str):
            return w or None
    return None


def build_timeline(
    events: list[dict[str, Any]], texts: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows newest first: contacts one by one, browsing folded per day and channel."""
    rows: list[dict[str, Any]] = []
    folded: dict[tuple[str, str], dict[str, Any]] = {}
    for index, e in enumerate(events):
        raw = e["raw"]
        ch = channel_of(raw)
        kind = e["type"]
        if kind in BROWSING_TYPES or e.get("event") in BROWSING_EVENTS:
            ts: datetime | None = e["timestamp"]
            day = ts.date().isoformat() if ts else ""
            f = folded.get((day, ch))
            if f is None:
                f = {
                    "browse": True,
                    "timestamp": ts,
                    "channel": ch,
                    "counts": Counter(),
                    "seq": e["seq"],
                    "index": index,
                }
                folded[(day, ch)] = f
                rows.append(f)
            label = {"page": "page", "screen": "screen", "identify": "sign-in",
                     "alias": "sign-in"}.get(kind) or str(e.get("event") or kind).lower()  # fmt: skip
            f["counts"][label] += 1
            continue
        props = obj(raw.get("properties"))
        text = words_of(props)
        analysis = texts.get(e["seq"])
        pending = bool(text) and analysis is None and kind == "track"
        rows.append({
            "browse": False, "seq": e["seq"], "index": index, "timestamp": e["timestamp"], "channel": ch,
            "title": e.get("event") or e.get("name") or kind,
            "detail": _detail(e.get("event"), props),
            "words": {"text": text, "pending": pending, "score": None, **(analysis or {})}
            if text else None,
        })  # fmt: skip
    for r in rows:
        if r["browse"]:
            r["title"] = "Browsed"
            r["detail"] = ", ".join(f"{n} × {label}" for label, n in r["counts"].most_common())
    return rows


def older_cursor(events: list[dict[str, Any]], rows: list[dict[str, Any]], shown: int,
                 cut: bool) -> dict[str, Any] | None:  # fmt: skip
    """Where the "show older contacts" page starts when the first ``shown`` rows are on the
    page: after the last event before the first row left out (or after the last event read,
    when reading stopped at its limit); ``None`` when nothing older is left."""
    if len(rows) > shown:
        k = int(rows[shown]["index"])
    elif cut and events:
        k = len(events)
    else:
        return None
    last = events[k - 1]
    if not isinstance(last.get("timestamp"), datetime):
        return None
    return {"before": last["timestamp"].isoformat(), "seq": last["seq"]}


def purchases(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Orders newest first, each with what happened to it later (delivered, returned …)."""
    after: dict[str, list[str]] = {}
    orders = []
    for e in events:
        p = obj(e["raw"].get("properties"))
        oid = p.get("order_id")
        ev = e.get("event") or ""
        if ev == "Order Completed":
            items = items_of(p)
            total = p.get("total")
            orders.append({
                "order_id": oid, "at": e["timestamp"], "channel": channel_of(e["raw"]),
                "total": number(total), "currency": p.get("currency"),
                "invalid_total": None if total is None or number(total) is not None else str(total),
                "quantity": sum(int(number(i.get("quantity")) or 1) for i in items),
                "categories": sorted({str(i["category"]) for i in items if i.get("category")}),
            })  # fmt: skip
        elif (
            oid
            and ev != "Checkout Started"
            and (ev.startswith("Order") or ev == "Product Returned")
        ):
            after.setdefault(str(oid), []).append(
                ev.replace("Order ", "").replace("Product ", "").lower()
            )
    for o in orders:
        o["after"] = sorted(set(after.get(str(o["order_id"]), [])))
    return orders
