"""Short human reasons for a suggestion, from the scores and the person's own history.

>>> from empatia.decide.policy import Candidate
>>> explain_item(Candidate("sku1", 0.9, {"buy_again": 1.0}, name="coffee beans", count=6,
...                        last_days=17, interval_days=14))
'Bought coffee beans 6 times, about every 14 days; last 17 days ago (3 days overdue).'
"""

from __future__ import annotations

from empatia.decide.policy import Candidate

SOURCE_LABEL = {
    "buy_again": "their own repeat purchases",
    "cooccurrence": "what people who buy the same things also buy",
    "als": "their taste, learnt from everything they bought",
    "trending": "what is popular this month",
    "fallback": "a popular item (no personal history to go on)",
}


def explain_item(c: Candidate) -> str:
    name = c.name or c.item
    if c.fallback:
        return f"{name}: popular this month — a fallback, not a personal pick."
    src = c.source
    if src == "buy_again" or (c.count >= 2 and c.last_days is not None):
        text = f"Bought {name} {c.count} time{'s' if c.count != 1 else ''}"
        if c.interval_days:
            text += f", about every {c.interval_days:.0f} days"
        if c.last_days is not None:
            text += f"; last {c.last_days:.0f} days ago"
        od = c.overdue_days
        if od is not None and od > 0:
            text += f" ({od:.0f} days overdue)"
        elif od is not None:
            text += f" (due in {-od:.0f} days)"
        return text + "."
    if src == "cooccurrence" and c.because:
        return f"{name}: people who buy {' and '.join(c.because)} also buy it."
    if src == "als":
        extra = f" (alongside {', '.join(c.because)})" if c.because else ""
        return f"{name}: fits their taste, learnt from everything they bought{extra}."
    return f"{name}: {SOURCE_LABEL.get(src, 'a good match')}."
