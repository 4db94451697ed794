"""The customer 360 page (S9) and its older-contacts pages, drawn from the library.

:mod:`empatia.views.customer` reads everything (and leaves out what the viewer may not see);
this module only adds what the templates draw on top: the emotional trajectory's chart and
the "show older contacts" link.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from empatia.views.customer import ContactsPage, Cursor, Customer360
from empatia.web import charts
from empatia.views.sections import Section


def page(view: Customer360) -> dict[str, Any]:
    """``customer.html``'s ``c``: the view's sections, the trajectory chart, the older link."""
    c = _fields(view)
    c["older"] = older_link(view.older)
    e = view.emotion
    if e.ok and e.data is not None:
        c["emotion"] = Section(True, {"summary": e.data.summary, "pending": e.data.pending,
                                      "spec": charts.trajectory([vars(p) for p in e.data.points])})  # fmt: skip
    return c


def contacts_page(view: ContactsPage) -> dict[str, Any]:
    """``contacts.html``'s ``c``: ``before`` is the end of time when reading from the newest."""
    c = _fields(view)
    c["before"] = view.before.before if view.before else datetime.max.replace(tzinfo=UTC)
    c["older"] = older_link(view.older)
    return c


def older_link(cursor: Cursor | None) -> dict[str, Any] | None:
    """The query of the "show older contacts" link.

    >>> older_link(Cursor(datetime(2026, 1, 2, 3, 4, tzinfo=UTC), 42))
    {'before': '2026-01-02T03:04:00+00:00', 'seq': 42}
    """
    return {"before": cursor.before.isoformat(), "seq": cursor.seq} if cursor else None


def _fields(view: Customer360 | ContactsPage) -> dict[str, Any]:
    return {f.name: getattr(view, f.name) for f in fields(view)}
