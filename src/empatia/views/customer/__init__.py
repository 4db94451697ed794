"""The customer 360 as data: who this is, what they bought, every contact and how they feel.

:func:`customer_360` reads one person's events in one pass (``event_persons`` → ``events``)
plus point lookups in the stages' tables, and returns a :class:`Customer360` of typed
sections. Each section is ``ok`` with its data, or says plainly which stage has not run yet;
one failing section never takes the others down. The web page and ``GET /v1/customers/{id}``
are thin faces over it, so both show the same thing under the same rules.

What a :class:`Viewer` may not see is left out here, not hidden by a template: contact
details are masked (``a•••@example.com``) and the customer's own words dropped.

The parts: :mod:`~empatia.views.customer.models` (the typed sections),
:mod:`~empatia.views.customer.viewer` (what a reader may see),
:mod:`~empatia.views.customer.events` (one person's events and texts),
:mod:`~empatia.views.customer.queries` (one function per section) and
:mod:`~empatia.views.customer.assemble` (putting them together).

>>> from empatia.workspace import Workspace
>>> with Workspace(db=":memory:") as ws:
...     customer_360(ws, "p_nobody")
Traceback (most recent call last):
...
empatia.errors.NotFoundError: no person p_nobody in this workspace; find people by any identifier with `empatia profile ID`
"""

from __future__ import annotations

from empatia.views.customer.assemble import customer_360, older_contacts
from empatia.views.customer.models import (
    MAX_EVENTS,
    TIMELINE_ROWS,
    ContactsPage,
    Cursor,
    Customer360,
)
from empatia.views.customer.viewer import Viewer, mask

__all__ = ["MAX_EVENTS", "TIMELINE_ROWS", "ContactsPage", "Cursor", "Customer360", "Viewer",
           "customer_360", "older_contacts", "mask"]  # fmt: skip
