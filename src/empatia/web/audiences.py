"""Audiences: people chosen by profile and experience, sized at once, exported with consent.

Filters are fixed, named and parameterised (no free SQL). Choosing people for targeting by
what is predicted about them (``p_alive``, value, mood, …) is profiling: an audience holds
only people whose consent allows privacy's ``audience`` use, and its export only those who
also allow the chosen purpose (``audience_export``), now; everybody else is left out, and the
export is written to the privacy audit log. Without the consent view nobody is in any audience.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
from fastapi import APIRouter, Request
from fastapi.responses import Response

from empatia.errors import ForbiddenError, ValidationError
from empatia.privacy.consent import use_sql
from empatia.web.auth import WebKey, WebWorkspace, may_see_words
from empatia.web.render import render
from empatia.web.sections import Section, Tables, records

router = APIRouter(include_in_schema=False)

PURPOSES = (
    "marketing_email",
    "marketing_sms",
    "marketing_push",
    "personalisation",
    "partner_sharing",
)
CHOICES = ("market", "language", "tier", "preferred_channel")
DIRECTIONS = ("improving", "worsening", "steady")


@dataclass
class Audience:
    where: list[str]
    params: list[Any]
    purpose: str
    needs: set[str]


def parse(q: Mapping[str, str], t: Tables) -> Audience:
    """Filters from a query string; unknown or empty ones are ignored."""
    params: list[Any]
    where, params, needs = ["true"], [], {"profiles"}
    for col in CHOICES:
        if q.get(col):
            where.append(f"p.{col} = ?")
            params.append(q[col])
    for name, sql in (("min_orders", "p.orders >= ?"), ("min_revenue", "p.revenue >= ?"),
                      ("max_recency", "p.recency_days <= ?"), ("min_p_alive", "p.p_alive >= ?")):  # fmt: skip
        v = _num(q.get(name))
        if v is not None:
            where.append(sql)
            params.append(v)
    if q.get("vip") == "yes":
        where.append("lower(coalesce(p.vip, '')) in ('true', 'yes', '1')")
    if q.get("direction") in DIRECTIONS and t.has("experience_trajectories"):
        where.append(
            "p.person_id in (select person_id from experience_trajectories where direction = ?)"
        )
        params.append(q["direction"])
        needs.add("experience_trajectories")
    mood = _num(q.get("max_mood"))
    if mood is not None and t.has("experience_trajectories"):
        where.append(
            "p.person_id in (select person_id from experience_trajectories where recent <= ?)"
        )
        params.append(mood)
    if q.get("hurt") == "yes" and t.has("experience_journeys"):
        where.append(
            "p.person_id in (select person_id from experience_journeys where succeeded_but_hurt)"
        )
    if q.get("open_case") == "yes" and t.has("experience_journeys"):
        where.append(
            "p.person_id in (select person_id from experience_journeys where not coalesce(resolved, false))"
        )
    if q.get("care") == "yes" and t.has("care_list"):
        where.append("p.person_id in (select person_id from care_list)")
    if q.get("action") and t.has("decisions"):
        where.append("p.person_id in (select person_id from decisions where action = ?)")
        params.append(q["action"])
    purpose = q.get("purpose") or "marketing_email"
    if purpose not in PURPOSES:
        raise ValidationError(f"unknown purpose {purpose!r}; use one of {', '.join(PURPOSES)}",
                              purpose=purpose)  # fmt: skip
    return Audience(where, params, purpose, needs)


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def members_sql(a: Audience) -> str:
    """The audience's filters plus the consent its use needs."""
    return " and ".join([*a.where, use_sql("audience", "p.person_id")])


def size(cur: duckdb.DuckDBPyConnection, t: Tables, a: Audience) -> Section:
    if not t.filled("profiles"):
        return t.need("profiles", "profiles")
    if not t.has("consent_current"):  # fail closed: consent unknown, nobody is in it
        return t.need("privacy", "consent_current")
    export = use_sql("audience_export", "p.person_id", destination=a.purpose)
    row = records(cur.execute(
        f"select count(*) as people, count(*) filter (where {export}) as reachable,"
        " sum(p.revenue) as revenue, count(*) filter (where p.revenue is null and p.orders > 0)"
        " as unconverted, (select any_value(currency) from profiles) as currency,"
        " (select count(*) from profiles where revenue is null and orders > 0) as unconverted_all,"
        " (select count(*) from profiles) as everyone"
        f" from profiles p where {members_sql(a)}", a.params))[0]  # fmt: skip
    return Section(True, {**row, "purpose": a.purpose, "consent_known": True})


def options(cur: duckdb.DuckDBPyConnection, t: Tables) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if t.has("profiles"):
        for col in CHOICES:
            out[col] = [r[0] for r in cur.execute(
                f"select {col} from profiles where {col} is not null group by 1 order by count(*) desc limit 40"
            ).fetchall()]  # fmt: skip
        # the unit of the revenue filter: profiles' reporting currency
        out["currency"] = [r[0] for r in cur.execute(
            "select currency from profiles where currency is not null limit 1").fetchall()]  # fmt: skip
    if t.has("decisions"):
        out["action"] = [r[0] for r in cur.execute(
            "select action from decisions group by 1 order by count(*) desc").fetchall()]  # fmt: skip
    return out


@router.get("/audiences")
def audiences_page(request: Request, key: WebKey, ws: WebWorkspace) -> Response:
    cur = ws.store.cursor()
    try:
        t = Tables(cur)
        a = parse(request.query_params, t)
        ctx: dict[str, Any]
        ctx = {"opts": options(cur, t), "q": dict(request.query_params), "size": size(cur, t, a),
               "purposes": PURPOSES, "directions": DIRECTIONS, "t": t.names}  # fmt: skip
    finally:
        cur.close()
    return render(request, "audiences.html", nav="audiences", **ctx)


@router.get("/audiences/size")
def audience_size(request: Request, key: WebKey, ws: WebWorkspace) -> Response:
    cur = ws.store.cursor()
    try:
        t = Tables(cur)
        s = size(cur, t, parse(request.query_params, t))
    finally:
        cur.close()
    return render(request, "_audience_size.html", size=s, q=dict(request.query_params))


@router.get("/audiences/export.csv")
def audience_export(request: Request, key: WebKey, ws: WebWorkspace) -> Response:
    """The people of the audience whose consent allows the purpose; admin keys only."""
    if not may_see_words(key):
        raise ForbiddenError("exporting contact details needs an admin key", key_id=key.key_id)
    cur = ws.store.cursor()
    try:
        t = Tables(cur)
        a = parse(request.query_params, t)
        if not t.has("consent_current"):
            raise ForbiddenError("no consent records yet (privacy stage): nothing may be exported")
        allowed = use_sql("audience_export", "p.person_id", destination=a.purpose)
        rows = cur.execute(
            "select p.person_id, p.first_name, p.last_name, p.email, p.phone, p.market, p.language,"
            f" p.preferred_channel from profiles p where {' and '.join(a.where)} and {allowed}"
            " order by p.person_id", a.params).fetchall()  # fmt: skip
    finally:
        cur.close()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["person_id", "first_name", "last_name", "email", "phone", "market", "language",
                "preferred_channel"])  # fmt: skip
    w.writerows(rows)
    _audit_export(ws, key.key_id, len(rows), a.purpose)
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audience-{a.purpose}.csv"',
        "Cache-Control": "no-store"})  # fmt: skip


def _audit_export(ws: Any, key_id: str, n: int, purpose: str) -> None:
    try:
        from empatia.privacy import audit
    except ModuleNotFoundError:  # pragma: no cover
        return
    audit.log(ws.store, f"key:{key_id}", "export", None, f"web audience: {n} people for {purpose}")
