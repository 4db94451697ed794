"""The perception gap (S6): what the company's own records say beside what customers feel.

Per touchpoint, both sides as a share in 0..1, so they compare directly:

* **company view** — the share of outcomes the company calls a success: support cases with
  ``internal_success``, online orders delivered, bookings fixed; ``self_rating`` is the
  company's self-rated service score (``agent_rating_internal``, 1–5) rescaled to 0..1;
* **customer view** — the share of customers' own verdicts that are positive: survey answers
  (CSAT 4–5, CES 5–7, NPS 9–10, bots excluded), review ratings 4–5, and for support cases the
  sentiment of the customer's last word.

``gap`` = company view − customer view ("80% think they deliver, 8% agree" is a gap of 0.72).
"""

from __future__ import annotations

from typing import Any

from functools import partial

import duckdb
import ibis
import ibis.expr.types as ir

from empatia.store.engine import Engine, union

def _share(flag: ir.BooleanValue) -> ir.FloatingValue:
    return flag.cast("int64").mean()


def _company(eng: Engine) -> ir.Table:
    """Per touchpoint, how many outcomes the company's records hold and the share a success."""
    j = eng.table("experience_journeys").filter(lambda t: t.resolved)
    ev = eng.table("events")
    js = partial(eng.json_str, ev.raw)
    track = ev.filter(ev.type == "track")
    channel = js("$.context.channel")
    orders = track.filter(
        ev.event.isin(("Order Completed", "Order Delivered")),
        channel.fill_null("") != "store",  # one reading of the JSON per order
    ).group_by(order_id=js("$.properties.order_id")).aggregate(
        ok=(ev.event == "Order Delivered").any()
    )
    bookings = track.filter(ev.event.isin(("Booking Changed", "Booking Fixed"))).group_by(
        booking_id=js("$.properties.booking_id")
    ).aggregate(ok=(ev.event == "Booking Fixed").any())
    none = ibis.null().cast("float64")
    return union(
        j.aggregate(touchpoint=ibis.literal("support_case"), n=j.count(),
                    share=_share(j.internal_success),
                    self_rating=((j.self_rating - 1) / 4).mean()),
        orders.aggregate(touchpoint=ibis.literal("delivery"), n=orders.count(),
                         share=_share(orders.ok), self_rating=none),
        bookings.aggregate(touchpoint=ibis.literal("booking"), n=bookings.count(),
                           share=_share(bookings.ok), self_rating=none),
    )  # fmt: skip


def _customer(eng: Engine) -> ir.Table:
    """Per touchpoint, how many verdicts customers gave and the share positive."""
    r = eng.table("survey_responses")
    r = r.filter(~r.excluded, r.touchpoint.notnull())
    surveys = r.select(
        "touchpoint",
        good=ibis.cases((r.survey == "csat", r.score >= 4), (r.survey == "ces", r.score >= 5),
                        else_=r.score >= 9),
    )  # fmt: skip
    ev = eng.table("events")
    rating = eng.json_str(ev.raw, "$.properties.rating").try_cast("float64")
    reviews = ev.filter(ev.type == "track", ev.event == "Review Submitted", rating.notnull())
    reviews = reviews.select(touchpoint=ibis.literal("delivery"), good=rating >= 4)
    j = eng.table("experience_journeys")
    j = j.filter(j.resolved, j.last_score.notnull())
    words = j.select(
        touchpoint=ibis.ifelse(j.topic == "booking", "booking", "support_case"),
        good=j.last_score > 0.2,
    )
    v = union(surveys, reviews, words)
    return v.group_by("touchpoint").aggregate(n=v.count(), share=_share(v.good))


def gap_expr(eng: Engine) -> ir.Table:
    """The rows of ``experience_gap``: per touchpoint, then ``overall`` — the touchpoints
    both sides speak of, each side weighted by its own counts (the self-rating by the
    company's counts where it has one)."""
    c, k = _company(eng), _customer(eng)
    both = c.outer_join(k, "touchpoint")
    per = both.select(
        touchpoint=ibis.coalesce(c.touchpoint, k.touchpoint),
        company_n=c.n, company_view=c.share, self_rating=c.self_rating,
        customer_n=k.n, customer_view=k.share, gap=c.share - k.share,
    ).filter(lambda t: (t.company_n.fill_null(0) > 0) | (t.customer_n.fill_null(0) > 0))  # fmt: skip
    b = per.filter(per.company_n > 0, per.customer_n > 0, per.company_view.notnull(),
                   per.customer_view.notnull())  # fmt: skip
    has_self = b.self_rating.notnull()
    sums = b.aggregate(
        cn=b.company_n.sum(), kn=b.customer_n.sum(),
        cv=(b.company_n * b.company_view).sum(), kv=(b.customer_n * b.customer_view).sum(),
        sn=b.company_n.sum(where=has_self), sv=(b.company_n * b.self_rating).sum(where=has_self),
    ).filter(lambda t: (t.cn > 0) & (t.kn > 0))  # fmt: skip
    overall = sums.select(
        touchpoint=ibis.literal("overall"), company_n=sums.cn, company_view=sums.cv / sums.cn,
        self_rating=sums.sv / sums.sn, customer_n=sums.kn, customer_view=sums.kv / sums.kn,
        gap=sums.cv / sums.cn - sums.kv / sums.kn,
    )  # fmt: skip
    return union(per, overall)


def build_gap(eng: Engine) -> dict[str, Any]:
    """Rebuild ``experience_gap`` (in the caller's transaction); return the overall figure."""
    eng.write(gap_expr(eng), "experience_gap")
    g = eng.table("experience_gap")
    row = eng.to_arrow(g.filter(g.touchpoint == "overall").select("gap")).to_pylist()
    return {"perception_gap": round(row[0]["gap"], 3) if row else None}


def perception_gap(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cur = con.cursor()
    try:
        df = cur.execute(
            "select * from experience_gap order by touchpoint = 'overall' desc, company_n desc"
        ).df()
    finally:
        cur.close()
    return df.astype(object).where(df.notna(), None).to_dict("records")  # type: ignore[no-any-return]
