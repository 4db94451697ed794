"""Who buys what, when: personal rhythms turned into orders (vectorised with numpy).

Grocery regulars buy on their own cadence (a renewal process with gamma-distributed gaps),
regulars at their own rate, seasonal buyers around Black Friday, Christmas and summer, one-off
buyers once. Each person keeps a personal repertoire of products they buy again and again.
The true next purchase (the next renewal after the world ends) is kept as truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from empatia.demo.catalogue import Catalogue
from empatia.demo.population import PERSONAS, People
from empatia.demo.timeline import DAY, END, START, draw_times

GROCERY, REGULAR, SEASONAL, ONE_OFF, TRAVELLER, BROWSER = range(len(PERSONAS))
WEB, APP, STORE = 0, 1, 2


@dataclass
class Orders:
    person: np.ndarray
    time: np.ndarray
    channel: np.ndarray
    item_start: np.ndarray  # offsets into the item arrays
    item_count: np.ndarray
    product: np.ndarray  # per item
    quantity: np.ndarray
    price: np.ndarray
    total: np.ndarray
    returned: np.ndarray  # per item: returned?
    next_at: np.ndarray  # per person: the true next purchase (nan: none expected)
    next_from: np.ndarray
    next_to: np.ndarray
    cadence: np.ndarray  # per person, days (nan when no rhythm)

    @property
    def n(self) -> int:
        return len(self.person)


def _grocery(p: People, rng: np.random.Generator, who: np.ndarray, cad: np.ndarray):
    lo = np.maximum(p.join[who], START)
    hi = p.churn[who]
    c = cad[who] * DAY
    k = np.ceil((hi - lo) / c * 1.3).astype(np.int64) + 3
    rep = np.repeat(np.arange(len(who)), k)
    gaps = rng.gamma(5.0, 1 / 5.0, rep.size) * c[rep]
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    first = rng.random(len(who)) * c
    gaps[starts] = first
    cum = np.cumsum(gaps)
    cum -= np.repeat(cum[starts] - gaps[starts], k)
    t = lo[rep] + cum
    keep = t < hi[rep]
    # the first renewal past the end is the true next purchase (for those still buying)
    after = ~keep & np.concatenate([[True], keep[:-1]]) & (np.arange(rep.size) != starts[rep])
    after |= ~keep & (np.arange(rep.size) == starts[rep])
    nxt = np.full(len(who), np.nan)
    idx = np.flatnonzero(after)
    first_after = np.unique(rep[idx], return_index=True)
    nxt[first_after[0]] = t[idx[first_after[1]]]
    return who[rep[keep]], t[keep], nxt


def plan_orders(p: People, cat: Catalogue, rng: np.random.Generator) -> Orders:
    n = p.n
    persona = p.persona
    lo = np.maximum(p.join, START)
    hi = p.churn
    span = np.maximum(hi - lo, DAY)
    cad = np.where(persona == GROCERY, np.clip(rng.lognormal(np.log(24), 0.35, n), 6, 60), np.nan)
    who_g = np.flatnonzero(persona == GROCERY)
    g_person, g_time, g_next = _grocery(p, rng, who_g, cad)

    rate = np.select(
        [persona == REGULAR, persona == TRAVELLER],
        [p.activity / rng.uniform(100, 280, n), p.activity / rng.uniform(100, 240, n)], 0.0,
    ) / DAY  # fmt: skip
    cnt = rng.poisson(rate * span)
    r_person = np.repeat(np.arange(n), cnt)
    r_time = draw_times(rng, lo[r_person], hi[r_person], "shop")

    # seasonal buyers: Black Friday to Christmas, and summer, in each season they were around
    s_p, s_t = [], []
    seasonal = np.flatnonzero(persona == SEASONAL)
    for y in (2024, 2025, 2026):
        for a, b, prob in ((f"{y}-11-22", f"{y}-12-22", 0.85), (f"{y}-06-10", f"{y}-07-31", 0.45)):
            ta = float(np.datetime64(a, "s").astype("int64"))
            tb = float(np.datetime64(b, "s").astype("int64"))
            inside = seasonal[(lo[seasonal] < tb) & (hi[seasonal] > ta)]
            k = (rng.random(inside.size) < prob) * (1 + (rng.random(inside.size) < 0.35))
            pp = np.repeat(inside, k)
            s_p.append(pp)
            s_t.append(draw_times(rng, np.maximum(lo[pp], ta), np.minimum(hi[pp], tb), "shop"))
    one = np.flatnonzero(persona == ONE_OFF)
    one = np.repeat(one, 1 + (rng.random(one.size) < 0.15))
    o_time = draw_times(rng, lo[one], hi[one], "shop")

    person = np.concatenate([g_person, r_person, *s_p, one])
    time = np.concatenate([g_time, r_time, *s_t, o_time])
    order = np.lexsort((time, person))
    person, time = person[order], time[order]
    m = person.size

    # channel: grocery regulars with a card mostly shop in store; app if they have one
    has_card = np.array([x is not None for x in p.loyalty])
    has_app = np.array([len(d) > 0 for d in p.devices])
    has_web = np.array([len(c) > 0 for c in p.cookies])
    u = rng.random(m)
    g = persona[person] == GROCERY
    store_p = np.where(g, 0.7, 0.2) * has_card[person]
    app_p = np.where(has_app[person], 0.45, 0.0)
    channel = np.where(u < store_p, STORE, np.where(rng.random(m) < app_p, APP, WEB))
    channel = np.where((channel == WEB) & ~has_web[person],
                       np.where(has_app[person], APP, STORE), channel)  # fmt: skip

    # personal repertoires: favourite categories and products bought again and again
    ncat = len(cat.cat_size)
    consum = np.flatnonzero(np.array([cat.consumable[cat.cat_start[k]] for k in range(ncat)]))
    other = np.setdiff1d(np.arange(ncat), consum)
    fav = np.where(
        (persona == GROCERY)[:, None],
        rng.choice(consum, size=(n, 3)),
        np.where(rng.random((n, 3)) < 0.35, rng.choice(consum, size=(n, 3)), rng.choice(other, size=(n, 3))),
    )  # fmt: skip
    rep_len = np.where(persona == GROCERY, 10 + rng.poisson(8, n), 3 + rng.poisson(3, n))
    rep_start = np.concatenate([[0], np.cumsum(rep_len)[:-1]])
    rp = np.repeat(np.arange(n), rep_len)
    rep_items = _pick(cat, fav[rp, _fav_slot(rng, rp.size)], rng)

    n_items = np.where(g, 2 + rng.poisson(3.0, m), 1 + rng.poisson(0.35, m))
    n_items = np.minimum(n_items, 14)
    item_start = np.concatenate([[0], np.cumsum(n_items)[:-1]])
    ip = np.repeat(person, n_items)
    rebuy = rng.random(ip.size) < np.where(persona[ip] == GROCERY, 0.85, 0.4)
    ridx = rep_start[ip] + np.minimum((rep_len[ip] * rng.random(ip.size) ** 1.8).astype(int),
                                      rep_len[ip] - 1)  # fmt: skip
    explore = _pick(cat, fav[ip, _fav_slot(rng, ip.size)], rng)
    wild = rng.random(ip.size) < 0.15
    explore = np.where(wild, rng.integers(0, cat.n, ip.size), explore)
    product = np.where(rebuy, rep_items[ridx], explore)
    quantity = np.where(cat.consumable[product], 1 + rng.poisson(0.5, ip.size), 1)
    mult = np.array([{"PLN": 4.3, "GBP": 0.86, "USD": 1.08}.get(c, 1.0) for c in p.currency])
    promo = np.where(rng.random(ip.size) < 0.12, 0.8, 1.0)
    price = np.round(cat.price[product] * mult[ip] * promo, 2)
    total = np.round(np.add.reduceat(price * quantity, item_start), 2)
    returned = rng.random(ip.size) < cat.return_rate[product] * np.where(
        channel[np.repeat(np.arange(m), n_items)] == STORE, 0.5, 1.0
    )

    # truth: the next purchase window
    next_at = np.full(n, np.nan)
    nf = np.full(n, np.nan)
    nt = np.full(n, np.nan)
    alive = p.churn >= END
    last = np.full(n, np.nan)
    if m:
        ends = np.flatnonzero(np.concatenate([person[1:] != person[:-1], [True]]))
        last[person[ends]] = time[ends]
    gi = who_g[alive[who_g]]
    gn = g_next[alive[who_g]]
    c = cad[gi] * DAY
    next_at[gi] = gn
    nf[gi] = np.maximum(np.nan_to_num(last[gi], nan=END) + 0.55 * c, END)
    nt[gi] = np.maximum(np.nan_to_num(last[gi], nan=END) + 1.6 * c, nf[gi] + DAY)
    ri = np.flatnonzero(alive & (rate > 0))
    gap = 1 / rate[ri]
    next_at[ri] = END + rng.exponential(gap)
    nf[ri] = END
    nt[ri] = END + gap
    si = seasonal[alive[seasonal]]
    bf = float(np.datetime64("2026-11-22", "s").astype("int64"))
    xmas = float(np.datetime64("2026-12-22", "s").astype("int64"))
    next_at[si] = bf + rng.random(si.size) * (xmas - bf)  # the season after the world ends
    nf[si] = END
    nt[si] = xmas
    far = next_at > END + 365 * DAY  # nothing expected within a year
    next_at[far] = np.nan
    nt = np.minimum(nt, END + 365 * DAY)
    return Orders(person, time, channel, item_start, n_items, product, quantity, price, total,
                  returned, next_at, nf, nt, cad)  # fmt: skip


def _fav_slot(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.searchsorted([0.6, 0.9], rng.random(size), side="right")


def _pick(cat: Catalogue, category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A product of each given category, popular ones far more often (a long tail)."""
    size = cat.cat_size[category]
    rank = np.minimum((size * rng.random(category.size) ** 2.5).astype(int), size - 1)
    return cat.cat_start[category] + rank
