"""The people of the demo world and the identifiers each one leaves in the company's systems.

Everything here is ground truth: who is who, which identifiers belong to whom, which ones
are shared (a call-centre placeholder number, a family tablet) and so must never merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from empatia.demo.names import EMAIL_DOMAINS, MARKETS, NAMES, PLACES, latin
from empatia.demo.timeline import DAY, END, START

PERSONAS = ("grocery_regular", "regular", "seasonal", "one_off", "traveller", "browser")
PERSONA_WEIGHTS = (0.07, 0.24, 0.15, 0.25, 0.08, 0.21)
PROFESSIONS = ("musician", "journalist", "blogger", "vip", "athlete", "actor")
PLACEHOLDER_PHONE = "+48221000000"  # what agents type when the caller's number is withheld
LOCALES = {"pl": "pl-PL", "ru": "ru-RU", "fa": "fa-IR", "de": "de-DE", "es": "es-ES", "en": "en-GB",
           "fr": "fr-FR"}  # fmt: skip


@dataclass
class People:
    """Column arrays, one row per person (index = person number)."""

    n: int
    person_id: list[str]
    market: list[str]
    lang: list[str]
    currency: list[str]
    gender: np.ndarray
    first: list[str]
    last: list[str]
    birth: list[str]
    city: list[str]
    street: list[str]
    postal: list[str]
    persona: np.ndarray  # index into PERSONAS
    join: np.ndarray
    churn: np.ndarray  # END (no churn) or the time they stop buying
    activity: np.ndarray  # long-tailed multiplier of how much they do
    user_id: list[str | None]
    emails: list[list[str]]
    phones: list[list[str]]
    cookies: list[list[str]]
    devices: list[list[tuple[str, str]]]  # (device id, app install anonymous id)
    loyalty: list[str | None]
    crm: list[str | None]
    influencer: np.ndarray
    profession: list[str | None] = field(default_factory=list)
    followers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    shared_devices: dict[int, tuple[str, str]] = field(default_factory=dict)  # person → tablet


def _uuid(rng: np.random.Generator, n: int, upper: bool = False) -> list[str]:
    a = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    out = []
    for hi, lo in a.tolist():
        h = f"{hi:016x}{lo:016x}"
        s = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[lo & 3]}{h[17:20]}-{h[20:32]}"
        out.append(s.upper() if upper else s)
    return out


def make_people(n: int, rng: np.random.Generator) -> People:
    """Draw ``n`` people with markets, names, personas and identifiers."""
    codes = list(MARKETS)
    mk = rng.choice(len(codes), size=n, p=[MARKETS[c][3] for c in codes])
    market = [codes[i] for i in mk]
    lang = [MARKETS[m][0] for m in market]
    # Russian speakers living in Germany and Spain write in Russian; some Iranians live in Germany.
    emigrants = rng.random(n)
    for i in np.flatnonzero(emigrants < 0.04).tolist():
        if market[i] in ("DE", "ES"):
            lang[i] = "ru"
        elif market[i] == "GB":
            lang[i] = "fa"
    currency = [MARKETS[m][1] for m in market]
    gender = (rng.random(n) < 0.52).astype(np.int8)  # 1 = female
    r = rng.random((n, 8))
    first, last, birth, city, street, postal = [], [], [], [], [], []
    years = rng.integers(1950, 2006, n).tolist()
    months = rng.integers(1, 13, n).tolist()
    days = rng.integers(1, 29, n).tolist()
    houses = rng.integers(1, 160, n).tolist()
    pcs = rng.integers(10000, 99999, n).tolist()
    for i in range(n):
        males, females, surnames = NAMES[lang[i]]
        g = int(gender[i])
        pool = females if g else males
        first.append(pool[int(r[i, 0] * len(pool))])
        last.append(surnames[int(r[i, 1] * len(surnames))][g])
        birth.append(f"{years[i]}-{months[i]:02d}-{days[i]:02d}")
        cities, streets = PLACES[market[i]]
        city.append(cities[int(r[i, 2] ** 1.6 * len(cities))])
        street.append(f"{streets[int(r[i, 3] * len(streets))]} {houses[i]}")
        p = pcs[i]
        postal.append(f"{p // 1000:02d}-{p % 1000:03d}" if market[i] == "PL" else f"{p}")
    persona = rng.choice(len(PERSONAS), size=n, p=PERSONA_WEIGHTS)
    # 35% were customers before the window opened; the rest joined over time, more lately.
    join = np.where(
        rng.random(n) < 0.35, START, START + rng.random(n) ** 0.8 * (END - START - 20 * DAY)
    )
    churn = np.full(n, END)
    quits = rng.random(n) < 0.18
    churn[quits] = join[quits] + rng.random(int(quits.sum())) * (END - join[quits])
    activity = np.clip(rng.lognormal(0.0, 0.75, n), 0.1, 12.0)

    off = rng.integers(0, 10**7, size=5).tolist()
    idx = np.arange(n, dtype=np.int64)
    ids = 10_000_000 + (idx * 48_271 + off[0]) % 89_999_989  # a bijection: unique, scattered
    has_account = rng.random(n) < 0.78
    user_id = [f"U{ids[i]}" if has_account[i] else None for i in range(n)]
    n_email = 1 + (r[:, 4] < 0.28) + (r[:, 4] < 0.07)
    n_phone = 1 + (r[:, 5] < 0.22)
    seen: set[str] = set()
    emails, phones = [], []
    digits = [
        ((idx * 7_919 + off[1]) % 10**8).tolist(),
        ((idx * 104_729 + off[2]) % 10**8).tolist(),
        ((idx * 7_919 + off[3]) % 10**7).tolist(),
    ]
    styles = rng.integers(0, 6, size=(n, 3)).tolist()
    for i in range(n):
        f, la = latin(first[i]), latin(last[i])
        doms = EMAIL_DOMAINS[market[i]]
        mine = []
        for k in range(int(n_email[i])):
            st = styles[i][k]
            local = (f"{f}.{la}", f"{f}{la}", f"{f[0]}{la}", f"{f}.{la}{years[i] % 100:02d}",
                     f"{f}_{la}{(ids[i] + k) % 1000}", f"{la}.{f}")[st]  # fmt: skip
            e = f"{local}@{doms[(i + k * 7) % len(doms)]}"
            if e in seen:
                e = f"{local}{ids[i] % 10000 + k}@{doms[(i + k) % len(doms)]}"
            if e in seen:
                e = f"{f}.{la}.{ids[i]}{k}@{doms[0]}"
            seen.add(e)
            mine.append(e)
        emails.append(mine)
        cc = MARKETS[market[i]][2]
        mine_p = []
        for k in range(int(n_phone[i])):
            d = digits[k][i]
            if cc == "1":
                mine_p.append(f"+1{(212, 646)[k]}{(digits[2][i] + k) % 10**7:07d}")
            elif cc in ("7", "98"):  # ten national digits, mobile ranges 9xx
                mine_p.append(f"+{cc}9{k}{d:08d}")
            elif cc == "52":  # ten national digits, Mexico City's 55/56
                mine_p.append(f"+52{55 + k}{d:08d}")
            else:
                mine_p.append(f"+{cc}{5 + k}{d:08d}")
        phones.append(mine_p)

    app = has_account & (r[:, 7] < 0.55)
    store = rng.random(n) < 0.42
    web = (r[:, 6] < 0.85) | (~app & ~store)  # everyone can be reached somewhere
    n_cookie = np.where(web, 1 + (rng.random(n) < 0.45) + (rng.random(n) < 0.15), 0)
    all_cookies = iter(_uuid(rng, int(n_cookie.sum())))
    cookies = [[next(all_cookies) for _ in range(int(k))] for k in n_cookie]
    n_dev = np.where(app, 1 + (rng.random(n) < 0.3), 0)
    dev_ids = iter(_uuid(rng, int(n_dev.sum()), upper=True))
    inst_ids = iter(_uuid(rng, int(n_dev.sum())))
    devices = [[(next(dev_ids), next(inst_ids)) for _ in range(int(k))] for k in n_dev]
    lc = 10**8 + (idx * 2_654_437 + off[4]) % (9 * 10**8 - 1)
    loyalty = [f"LC{lc[i]:010d}" if store[i] else None for i in range(n)]
    crm_has = rng.random(n) < 0.3
    crm = [f"CRM-{7_000_000 + i * 3 + int(r[i, 0] * 3)}" if crm_has[i] else None for i in range(n)]
    width = max(6, len(str(n)))
    return People(
        n=n, person_id=[f"P{i:0{width}d}" for i in range(n)], market=market, lang=lang,
        currency=currency, gender=gender, first=first, last=last, birth=birth, city=city,
        street=street, postal=postal, persona=persona, join=join, churn=churn,
        activity=activity, user_id=user_id, emails=emails, phones=phones, cookies=cookies,
        devices=devices, loyalty=loyalty, crm=crm, influencer=np.zeros(n, bool),
        profession=[None] * n, followers=np.zeros(n, np.int64),
    )  # fmt: skip


def add_influencers(p: People, rng: np.random.Generator) -> np.ndarray:
    """Mark about 0.3% of account holders as influencers; return their indices."""
    cand = np.flatnonzero(np.array([u is not None for u in p.user_id]))
    k = max(6, int(round(p.n * 0.003)))
    chosen = rng.choice(cand, size=min(k, len(cand)), replace=False)
    for i in chosen.tolist():
        p.influencer[i] = True
        p.profession[i] = PROFESSIONS[int(rng.integers(len(PROFESSIONS)))]
        p.followers[i] = int(np.clip(rng.lognormal(np.log(25_000), 1.3), 2_000, 3_000_000))
    return chosen


def add_family_tablets(p: People, rng: np.random.Generator) -> None:
    """A few households share one tablet: one device, several people logging in on it."""
    cand = np.flatnonzero(np.array([u is not None for u in p.user_id]) & ~p.influencer)
    families = max(1, p.n // 2500)
    chosen = rng.choice(cand, size=min(len(cand), families * 4), replace=False).tolist()
    tablets = _uuid(rng, families * 2, upper=True)
    for f in range(families):
        members = chosen[f * 4 : f * 4 + 2 + f % 3]
        tablet = (tablets[2 * f], tablets[2 * f + 1].lower())
        for i in members:
            p.devices[i].append(tablet)
            p.shared_devices[i] = tablet
            p.market[i] = p.market[members[0]]
            p.last[i] = p.last[members[0]]
