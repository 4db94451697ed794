"""The web UI's pages: a few lines each over the stages' read functions.

``router`` is included by the app factory (``empatia.api.app.ROUTERS``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from empatia.web import audiences, auth, dashboard, static
from empatia.api.deps import PoolDep
from empatia.api.tenancy import Tenant
from empatia.errors import NotFoundError
from empatia.views.customer import Cursor, Viewer, customer_360, older_contacts
from empatia.web.auth import CareWebKey, WebKey, WebTenant, WebWorkspace, safe_next
from empatia.web.customer import contacts_page, page
from empatia.web.render import render
from empatia.web.search import default_region, find

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
router.include_router(static.router)
router.include_router(auth.router)
router.include_router(dashboard.router)
router.include_router(audiences.router)


@router.get("/customers")
def customers(request: Request, key: WebKey, ws: WebWorkspace, q: str = "") -> Response:
    """Search by any identifier or a name; one match goes straight to the customer."""
    found = find(ws.store.con, ws.store, q, region=default_region(ws))
    if "person_id" in found:
        return RedirectResponse(f"/customers/{found['person_id']}", status_code=303)
    return render(request, "search.html", nav="customers", q=q, **found)


@router.get("/customers/{person_id}")
def customer(person_id: str, request: Request, key: WebKey, tenant: WebTenant,
             pool: PoolDep) -> Response:  # fmt: skip
    viewer = Viewer.for_key(key)
    try:
        view = customer_360(tenant.workspace, person_id, viewer=viewer, executor=pool)
    except NotFoundError:
        return _nobody(request, person_id)
    words = viewer.words
    _audit(tenant, key.key_id, person_id, "web customer 360" + (" with words" if words else ""))
    return render(request, "customer.html", nav="customers", c=page(view), words=words)


@router.get("/customers/{person_id}/contacts")
def contacts(person_id: str, request: Request, key: WebKey, tenant: WebTenant,
             before: datetime | None = None,
             seq: Annotated[int, Query(ge=0)] = 2**62) -> Response:  # fmt: skip
    """A person's contacts older than the event ``(before, seq)`` (all of them, newest
    first, without ``before``), a page at a time."""
    viewer = Viewer.for_key(key)
    cursor = Cursor(before, seq) if before else None
    try:
        view = older_contacts(tenant.workspace, person_id, cursor, viewer=viewer)
    except NotFoundError:
        return _nobody(request, person_id)
    words = viewer.words
    _audit(tenant, key.key_id, person_id, "web contacts" + (" with words" if words else ""))
    return render(request, "contacts.html", nav="customers", c=contacts_page(view), words=words)


def _nobody(request: Request, person_id: str) -> Response:
    return render(request, "search.html", status=404, nav="customers", q=person_id, matches=[],
                  message=f"No person {person_id} in this workspace.")  # fmt: skip


@router.post("/care/{alert_or_person}/{action}")
def care_action(alert_or_person: str, action: Literal["ack", "resolve"], request: Request,
                key: CareWebKey, ws: WebWorkspace, note: Annotated[str | None, Form()] = None,
                next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002  # fmt: skip
    """Acknowledge or resolve a special-care alert (a care or admin key; htmx swaps the
    buttons, a plain form goes back to the page it came from)."""
    from empatia.care.alerts import act

    verb = {"ack": "acknowledged", "resolve": "resolved"}[action]
    cur = ws.store.cursor()
    try:
        out: dict[str, Any] = act(cur, alert_or_person, verb, note, key.key_id)
    finally:
        cur.close()
    if request.headers.get("hx-request"):
        return render(request, "_care_actions.html", alert_id=out.get("alert_id", alert_or_person),
                      status_now=out.get("status", verb))  # fmt: skip
    return RedirectResponse(safe_next(next), status_code=303)


def _audit(tenant: Tenant, key_id: str, person_id: str, detail: str) -> None:
    """Who looked at whom goes to the privacy audit log (through the store's writer)."""
    try:
        from empatia.privacy import audit
    except ModuleNotFoundError:  # pragma: no cover - privacy not installed
        return
    store = tenant.workspace.store

    def write() -> None:
        audit.log(store, f"key:{key_id}", "read", person_id, detail)

    try:
        tenant.writer.call(write)
    except Exception:  # noqa: BLE001 - the page is more important than its audit line
        log.exception("audit log write failed")
