"""The customer 360 over HTTP: ``GET /v1/customers/{person_id}`` and its older contacts.

The same data as the web page (``empatia.views.customer``) under the same rules: a ``read``,
``care`` or ``admin`` key (never a public ``write`` key); contact details masked and the
customer's own words left out unless the key is ``admin``. Reads are audited
(``AuditMiddleware``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from empatia.api.deps import PoolDep, ReadKey, WorkspaceDep
from empatia.views.customer import (
    ContactsPage,
    Cursor,
    Customer360,
    Viewer,
    customer_360,
    older_contacts,
)

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get("/{person_id}")
def customer(person_id: str, ws: WorkspaceDep, key: ReadKey, pool: PoolDep) -> Customer360:
    """Everything the customer page shows, section by section; a section whose stage has not
    run says so in ``message``. The timeline holds the newest contacts; ``older`` is where
    ``/contacts`` continues."""
    return customer_360(ws, person_id, viewer=Viewer.for_key(key), executor=pool)


@router.get("/{person_id}/contacts")
def contacts(person_id: str, ws: WorkspaceDep, key: ReadKey, before: datetime | None = None,
             seq: Annotated[int, Query(ge=0)] = 2**62) -> ContactsPage:  # fmt: skip
    """A page of the person's contacts older than the event ``(before, seq)`` — the
    ``older`` of the previous page — or from the newest without ``before``."""
    cursor = Cursor(before, seq) if before else None
    return older_contacts(ws, person_id, cursor, viewer=Viewer.for_key(key))
