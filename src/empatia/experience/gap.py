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

import duckdb

from empatia.store import transaction

GAP_SQL = """
with company as (
    select 'support_case' as touchpoint, count(*) as n, avg(internal_success::int) as view,
           avg((self_rating - 1) / 4) as self_rating
    from experience_journeys where resolved
    union all
    select 'delivery', count(*), avg(delivered::int), null from (
        select json_extract_string(raw, '$.properties.order_id') as order_id,
               bool_or(event = 'Order Delivered') as delivered
        from events where type = 'track' and event in ('Order Completed', 'Order Delivered')
          and json_extract_string(raw, '$.context.channel') is distinct from 'store'
        group by 1
    )
    union all
    select 'booking', count(*), avg(fixed::int), null from (
        select json_extract_string(raw, '$.properties.booking_id') as booking_id,
               bool_or(event = 'Booking Fixed') as fixed
        from events where type = 'track' and event in ('Booking Changed', 'Booking Fixed')
        group by 1
    )
), verdicts as (
    select touchpoint, case survey when 'csat' then score >= 4 when 'ces' then score >= 5
                                   else score >= 9 end as good
    from survey_responses where not excluded and touchpoint is not null
    union all
    select 'delivery', try_cast(json_extract_string(raw, '$.properties.rating') as double) >= 4
    from events where type = 'track' and event = 'Review Submitted'
      and try_cast(json_extract_string(raw, '$.properties.rating') as double) is not null
    union all
    select case when topic = 'booking' then 'booking' else 'support_case' end, last_score > 0.2
    from experience_journeys where resolved and last_score is not null
), customer as (
    select touchpoint, count(*) as n, avg(good::int) as view from verdicts group by 1
)
select coalesce(c.touchpoint, k.touchpoint) as touchpoint, c.n as company_n,
       c.view as company_view, c.self_rating, k.n as customer_n, k.view as customer_view,
       c.view - k.view as gap
from company c full join customer k using (touchpoint)
where coalesce(c.n, 0) > 0 or coalesce(k.n, 0) > 0
"""


def build_gap(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Rebuild ``experience_gap``; return the overall figure."""
    cur = con.cursor()
    try:
        rows = cur.execute(GAP_SQL).fetchall()
        both = [r for r in rows if r[1] and r[4] and r[2] is not None and r[5] is not None]
        cn = sum(r[1] for r in both)
        kn = sum(r[4] for r in both)
        overall = None
        if cn and kn:
            cv = sum(r[1] * r[2] for r in both) / cn
            kv = sum(r[4] * r[5] for r in both) / kn
            selfs = [(r[1], r[3]) for r in both if r[3] is not None]
            sr = sum(n * v for n, v in selfs) / sum(n for n, _ in selfs) if selfs else None
            overall = ("overall", cn, cv, sr, kn, kv, cv - kv)
        with transaction(cur):  # rolled back on any error
            cur.execute("delete from experience_gap")
            data = rows + ([overall] if overall else [])
            if data:
                cur.executemany("insert into experience_gap values (?, ?, ?, ?, ?, ?, ?)", data)
    finally:
        cur.close()
    return {"perception_gap": round(overall[6], 3) if overall else None}


def perception_gap(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cur = con.cursor()
    try:
        df = cur.execute(
            "select * from experience_gap order by touchpoint = 'overall' desc, company_n desc"
        ).df()
    finally:
        cur.close()
    return df.astype(object).where(df.notna(), None).to_dict("records")  # type: ignore[no-any-return]
