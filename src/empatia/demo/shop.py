"""Shopping events: web and app sessions (anonymous until people log in), orders online and in
stores, deliveries (the company's "transaction succeeded") and returns."""

from __future__ import annotations

import numpy as np

from empatia.demo.catalogue import Catalogue
from empatia.demo.orders import APP, STORE, WEB, Orders
from empatia.demo.population import LOCALES, People
from empatia.demo.sink import Sink, event
from empatia.demo.timeline import DAY, END, START, iso
from empatia.demo.truth import Truth, ts

PAGES = ["Home", "Category", "Search", "Deals", "Product", "Cart", "Stores", "Help"]
REASONS = [
    "wrong size",
    "damaged",
    "not as described",
    "changed my mind",
    "arrived late",
    "defective",
]
_OS = ["iOS", "Android"]
_CHUNK = 200_000


def emit_shop(
    p: People, cat: Catalogue, o: Orders, rng: np.random.Generator, web: Sink, app: Sink,
    store: Sink, truth: Truth, stores: int = 40,
) -> None:  # fmt: skip
    """Write every session, order, delivery and return."""
    n = p.n
    has_web = np.array([len(c) > 0 for c in p.cookies])
    has_app = np.array([len(d) > 0 for d in p.devices])
    lo = np.maximum(p.join, START)
    hi = np.maximum(p.churn, lo + DAY)
    # browsing without buying: a long tail of visits, more for active people
    k = rng.poisson(p.activity * (hi - lo) / DAY / 560.0) * (has_web | has_app)
    b_person = np.repeat(np.arange(n), k)
    b_time = lo[b_person] + rng.random(b_person.size) * (hi - lo)[b_person]
    b_chan = np.where(has_app[b_person] & (~has_web[b_person] | (rng.random(b_person.size) < 0.4)),
                      APP, WEB)  # fmt: skip
    online = np.flatnonzero(o.channel != STORE)
    s_person = np.concatenate([b_person, o.person[online]])
    s_time = np.concatenate([b_time, o.time[online] - rng.uniform(120, 1500, online.size)])
    s_chan = np.concatenate([b_chan, o.channel[online]])
    s_order = np.concatenate([np.full(b_person.size, -1), online])
    order = np.lexsort((s_time, s_person))
    s_person, s_time, s_chan, s_order = (a[order] for a in (s_person, s_time, s_chan, s_order))
    S = s_person.size
    pid, pname, pcat, cprice = cat.product_id, cat.name, cat.category, cat.price.tolist()
    deliver_at = o.time + DAY * np.clip(rng.lognormal(np.log(2.0), 0.5, o.n), 0.3, 12)
    returned = o.returned
    logged: set[str] = set()
    aliased: set[str] = set()
    # Sessions are written in chunks so memory stays flat at a million customers.
    for c0 in range(0, S, _CHUNK):
        c1 = min(S, c0 + _CHUNK)
        t_iso = iso(s_time[c0:c1])
        r = rng.random((c1 - c0, 4)).tolist()
        nview = rng.integers(1, 3, c1 - c0).tolist()
        rand_products = rng.integers(0, cat.n, (c1 - c0) * 3).tolist()
        sp, sc, so = s_person[c0:c1].tolist(), s_chan[c0:c1].tolist(), s_order[c0:c1].tolist()
        st = s_time[c0:c1].tolist()
        used = s_order[c0:c1][s_order[c0:c1] >= 0]
        oa, ob = (int(used.min()), int(used.max()) + 1) if used.size else (0, 0)
        istart, icount, totals, deliver, ia, prods, qtys, prices = _slice(o, deliver_at, oa, ob)
        for j in range(c1 - c0):
            i = sp[j]
            t = st[j]
            oj = so[j]
            loc = LOCALES[p.lang[i]]
            rj = r[j]
            if sc[j] == WEB:
                frac = (t - lo[i]) / max(hi[i] - lo[i], 1.0)
                sink = web
                ctx, user, anon = _web_visit(p, i, frac, t_iso[j], rj, oj >= 0, loc, logged, web)
            else:
                sink = app
                ctx, user, anon = _app_visit(p, i, t_iso[j], rj, loc, aliased, app)
            tt = t + 20.0
            if oj < 0:
                _browse(sink, ctx, user, anon, tt, rj[3], rand_products[3 * j : 3 * j + nview[j]],
                        f"A{c0 + j}", pid, pname, pcat, cprice)  # fmt: skip
                continue
            a, c = istart[oj - oa], icount[oj - oa]
            items = [{"product_id": pid[prods[x - ia]], "name": pname[prods[x - ia]], "category": pcat[prods[x - ia]], "price": prices[x - ia],
                      "quantity": qtys[x - ia]} for x in range(a, a + c)]  # fmt: skip
            quick = c > 3 and rj[3] < 0.7  # a grocery "buy again" basket: no browsing
            if not quick:
                for it in items[: 1 + (rj[1] < 0.3)]:
                    sink.emit(event("track", ts(tt), user_id=user, anonymous_id=anon,
                                    name="Product Viewed", context=ctx,
                                    properties={"product_id": it["product_id"], "name": it["name"],
                                                "category": it["category"], "price": it["price"]}))  # fmt: skip
                    tt += 25.0
                    sink.emit(event("track", ts(tt), user_id=user, anonymous_id=anon,
                                    name="Product Added", context=ctx,
                                    properties={**it}))  # fmt: skip
                    tt += 20.0
            oid = f"O{1_000_000 + oj}"
            if not quick:
                sink.emit(event("track", ts(tt), user_id=user, anonymous_id=anon,
                                name="Checkout Started", context=ctx,
                                properties={"order_id": oid, "total": totals[oj - oa]}))  # fmt: skip
            props = {
                "order_id": oid,
                "total": totals[oj - oa],
                "currency": p.currency[i],
                "products": items,
            }
            if user is None:
                props["email"] = p.emails[i][0]  # guest checkout
            sink.emit(event("track", ts(tt + 40.0), user_id=user, anonymous_id=anon,
                            name="Order Completed", context=ctx, properties=props))  # fmt: skip
            _after(sink, oj, oid, deliver[oj - oa], user, anon, ctx, items, returned, a, rj[3])
    _store_orders(p, cat, o, deliver_at, store, stores)


def _web_visit(p: People, i: int, frac: float, t_iso: str, rj: list[float], buys: bool,
               loc: str, logged: set[str], web: Sink) -> tuple[dict, str | None, str]:  # fmt: skip
    """A web visit's first page, with a log-in first when the visitor logs in; returns the
    context, the user id (None while anonymous) and the cookie."""
    uid = p.user_id[i]
    cks = p.cookies[i]
    cookie = cks[min(len(cks) - 1, int(frac * len(cks) + rj[0] * 0.6))]
    ctx = {"channel": "web", "locale": loc}
    if uid is not None and cookie not in logged and (buys or rj[1] < 0.2):
        web.emit(event("identify", t_iso, user_id=uid, anonymous_id=cookie,
                       traits={"email": p.emails[i][0]}, context=ctx))  # fmt: skip
        logged.add(cookie)
    user = uid if cookie in logged else None
    web.emit(event("page", t_iso, user_id=user, anonymous_id=cookie,
                   name=PAGES[int(rj[2] * 4)], context=ctx))  # fmt: skip
    return ctx, user, cookie


def _app_visit(p: People, i: int, t_iso: str, rj: list[float], loc: str, aliased: set[str],
               app: Sink) -> tuple[dict, str | None, str]:  # fmt: skip
    """An app session's first screen (aliasing a device the first time it is seen); returns
    the context, the user id and the device's anonymous id."""
    uid = p.user_id[i]
    devs = p.devices[i]
    dev = p.shared_devices.get(i) if i in p.shared_devices and rj[0] < 0.5 else devs[0]
    if dev is None or (len(devs) > 1 and rj[0] > 0.8):
        dev = devs[-1]
    ctx = {"channel": "app", "locale": loc,
           "device": {"id": dev[0], "type": "tablet" if dev == p.shared_devices.get(i) else "mobile"},
           "os": {"name": _OS[i % 2]}}  # fmt: skip
    if dev[1] not in aliased:
        app.emit(event("alias", t_iso, user_id=uid, context=ctx) | {"previousId": dev[1]})
        aliased.add(dev[1])
    app.emit(event("screen", t_iso, user_id=uid, anonymous_id=dev[1],
                   name=PAGES[int(rj[2] * 4)], context=ctx))  # fmt: skip
    return ctx, uid, dev[1]


def _browse(sink: Sink, ctx: dict, user: str | None, anon: str, tt: float, u: float,
            viewed: list[int], cart_id: str, pid: list, pname: list, pcat: list,
            cprice: list) -> None:  # fmt: skip
    """Browsing without buying: products viewed, sometimes an abandoned cart or checkout."""
    for q in viewed:
        sink.emit(event("track", ts(tt), user_id=user, anonymous_id=anon,
                        name="Product Viewed", context=ctx,
                        properties={"product_id": pid[q], "name": pname[q], "category": pcat[q],
                                    "price": cprice[q]}))  # fmt: skip
        tt += 30.0 + 60.0 * u
    q = viewed[-1]
    if u > 0.7:  # an abandoned cart; some get as far as an abandoned checkout
        sink.emit(event("track", ts(tt), user_id=user, anonymous_id=anon, name="Product Added",
                        context=ctx, properties={"product_id": pid[q], "name": pname[q], "category": pcat[q],
                                                 "price": cprice[q], "quantity": 1}))  # fmt: skip
        if u > 0.88:
            sink.emit(event("track", ts(tt + 20.0), user_id=user, anonymous_id=anon,
                            name="Checkout Started", context=ctx,
                            properties={"order_id": cart_id, "total": cprice[q]}))  # fmt: skip


def _store_orders(p: People, cat: Catalogue, o: Orders, deliver_at: np.ndarray, store: Sink,
                  stores: int) -> None:  # fmt: skip
    """Store purchases: the till sends the loyalty card number."""
    pid, pname, pcat = cat.product_id, cat.name, cat.category
    returned = o.returned
    in_store = np.flatnonzero(o.channel == STORE)
    for c0 in range(0, in_store.size, _CHUNK):
        chunk = in_store[c0 : c0 + _CHUNK]
        oa, ob = int(chunk[0]), int(chunk[-1]) + 1
        istart, icount, totals, _, ia, prods, qtys, prices = _slice(o, deliver_at, oa, ob)
        for oj in chunk.tolist():
            i = int(o.person[oj])
            card = p.loyalty[i]
            a, c = istart[oj - oa], icount[oj - oa]
            items = [{"product_id": pid[prods[x - ia]], "name": pname[prods[x - ia]], "category": pcat[prods[x - ia]], "price": prices[x - ia],
                      "quantity": qtys[x - ia]} for x in range(a, a + c)]  # fmt: skip
            ctx = {"channel": "store", "locale": LOCALES[p.lang[i]]}
            oid = f"O{1_000_000 + oj}"
            sid = f"S{(i * 7 + oj) % stores + 101}"
            store.emit(event("track", ts(o.time[oj]), anonymous_id=card, name="Order Completed",
                             context=ctx, properties={"order_id": oid, "total": totals[oj - oa],
                             "currency": p.currency[i], "products": items, "store_id": sid,
                             "loyaltyId": card}))  # fmt: skip
            for x in range(a, a + c):
                if returned[x] and o.time[oj] + (3 + x % 7) * DAY < END:
                    store.emit(event("track", ts(o.time[oj] + 3 * DAY + x % 7 * DAY), anonymous_id=card,
                                     name="Product Returned", context=ctx,
                                     properties={"order_id": oid, "product_id": pid[prods[x - ia]],
                                                 "reason": REASONS[x % len(REASONS)], "store_id": sid,
                                                 "loyaltyId": card}))  # fmt: skip


def _after(sink: Sink, oj: int, oid: str, t_del: float, user: str | None, anon: str,
           ctx: dict, items: list[dict], returned: np.ndarray, a: int, u: float) -> None:  # fmt: skip
    if t_del >= END:
        return
    sink.emit(event("track", ts(t_del), user_id=user, anonymous_id=anon, name="Order Delivered",
                    context=ctx, properties={"order_id": oid}))  # fmt: skip
    for x, it in enumerate(items):
        if returned[a + x]:
            tr = t_del + DAY * (2 + 10 * u)
            if tr >= END:
                continue
            sink.emit(event("track", ts(tr), user_id=user, anonymous_id=anon,
                            name="Product Returned", context=ctx,
                            properties={"order_id": oid, "product_id": it["product_id"],
                                        "reason": REASONS[(a + x) % len(REASONS)]}))  # fmt: skip
            if tr + 3 * DAY >= END:
                continue
            sink.emit(event("track", ts(tr + 3 * DAY), user_id=user, anonymous_id=anon,
                            name="Order Refunded", context=ctx,
                            properties={"order_id": oid, "product_id": it["product_id"],
                                        "reason": "return"}))  # fmt: skip


def _slice(o: Orders, deliver_at: np.ndarray, oa: int, ob: int) -> tuple:
    """Python lists of orders ``oa:ob`` and their items (the items start at ``ia``)."""
    ia = int(o.item_start[oa]) if ob > oa else 0
    ib = int(o.item_start[ob - 1] + o.item_count[ob - 1]) if ob > oa else 0
    return (
        o.item_start[oa:ob].tolist(), o.item_count[oa:ob].tolist(), o.total[oa:ob].tolist(),
        deliver_at[oa:ob].tolist(), ia, o.product[ia:ib].tolist(), o.quantity[ia:ib].tolist(),
        o.price[ia:ib].tolist(),
    )  # fmt: skip
