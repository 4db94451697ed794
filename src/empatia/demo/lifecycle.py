"""Who people say they are: account sign-ups with consent, new e-mails and phones, loyalty
cards at the till, CRM records typed by hand (with typos), influencer traits, consent changes
and subject requests."""

from __future__ import annotations

from typing import Any

import numpy as np

from empatia.demo.population import LOCALES, People
from empatia.demo.sink import Sink, event
from empatia.demo.timeline import DAY, END, START
from empatia.demo.truth import Truth, phone_variant, ts

PURPOSES = ("analytics", "personalisation", "marketing_email", "marketing_sms", "marketing_push",
            "partner_sharing", "profiling")  # fmt: skip
GRANT_RATE = (0.88, 0.7, 0.45, 0.18, 0.35, 0.12, 0.3)
NETWORKS = ("instagram", "youtube", "tiktok", "x", "facebook")
_TYPO_SWAP = {"ł": "l", "ó": "o", "ś": "s", "ż": "z", "ü": "u", "ö": "o", "é": "e", "í": "i",
              "ñ": "n", "ё": "е", "й": "и", "ä": "a", "ń": "n"}  # fmt: skip


def typo(s: str, u: float, v: float) -> str:
    """A plausible typing mistake: swapped letters, a dropped or doubled letter, lost accents."""
    if len(s) < 4:
        return s
    k = 1 + int(v * (len(s) - 2))
    kind = int(u * 4)
    if kind == 0:
        return s[: k - 1] + s[k] + s[k - 1] + s[k + 1 :]
    if kind == 1:
        return s[:k] + s[k + 1 :]
    if kind == 2:
        return s[:k] + s[k] + s[k:]
    plain = "".join(_TYPO_SWAP.get(c, c) for c in s)
    return plain if plain != s else s[:k] + s[k + 1 :]


def emit_lifecycle(p: People, rng: np.random.Generator, web: Sink, crm: Sink, store: Sink,
                   truth: Truth, hurt_time: dict[int, float]) -> None:  # fmt: skip
    n = p.n
    r = rng.random((n, 12)).tolist()
    grants = (rng.random((n, len(PURPOSES))) < np.array(GRANT_RATE)).tolist()
    # people browse anonymously for a while before they sign up
    lo = np.maximum(p.join, START)
    reg_t = lo + rng.random(n) ** 1.5 * np.minimum(90 * DAY, (END - lo) / 2)
    for i in range(n):
        ri = r[i]
        loc = LOCALES[p.lang[i]]
        uid = p.user_id[i]
        if uid is not None:
            _account(p, i, ri, float(reg_t[i]), loc, grants[i], web, truth, hurt_time)
        card = p.loyalty[i]
        if card is not None:
            t = float(max(p.join[i], START) + ri[6] * 30 * DAY)
            traits: dict[str, Any] = {"loyaltyId": card, "firstName": p.first[i],
                                      "lastName": p.last[i], "tier": _tier(ri[7])}  # fmt: skip
            if ri[8] < 0.45:
                traits["phone"] = phone_variant(p.phones[i][0], int(ri[9] * 5))
            elif ri[8] < 0.7:
                traits["email"] = p.emails[i][-1]
            store.emit(event("identify", ts(min(t, END - 60)), anonymous_id=card, traits=traits,
                             context={"channel": "store", "locale": loc}))  # fmt: skip
        rec = p.crm[i]
        if rec is not None:
            dirty = ri[10] < 0.35
            first, last, street = p.first[i], p.last[i], p.street[i]
            if dirty:
                which = int(ri[11] * 3)
                if which == 0:
                    first = typo(first, ri[9], ri[8])
                elif which == 1:
                    last = typo(last, ri[9], ri[8])
                else:
                    street = typo(street, ri[9], ri[8])
            traits = {"crmId": rec, "firstName": first, "lastName": last,
                      "birthDate": p.birth[i] if ri[5] < 0.85 else None,
                      "address": {"city": p.city[i], "street": street, "postalCode": p.postal[i]}}  # fmt: skip
            if ri[4] < 0.3:
                traits["phone"] = phone_variant(p.phones[i][-1], int(ri[3] * 5))
            truth.set("crm_typo", i, dirty)
            crm.emit(event("identify", ts(float(START + ri[2] * 200 * DAY)), user_id=rec,
                           traits={k: v for k, v in traits.items() if v is not None},
                           context={"channel": "crm"}))  # fmt: skip


def _tier(u: float) -> str:
    return "gold" if u < 0.08 else "silver" if u < 0.3 else "basic"


def _account(p: People, i: int, ri: list[float], t: float, loc: str, grant: list[bool],
             web: Sink, truth: Truth, hurt_time: dict[int, float]) -> None:  # fmt: skip
    uid = p.user_id[i]
    anon = p.cookies[i][0] if p.cookies[i] else (p.devices[i][0][1] if p.devices[i] else None)
    channel = "web" if p.cookies[i] else "app"
    traits = _account_traits(p, i, ri)
    ctx: dict[str, Any] = {"channel": channel, "locale": loc}
    state = dict(zip(PURPOSES, grant))
    if not p.devices[i]:
        state["marketing_push"] = False
    via_context = ri[5] < 0.7
    if via_context:
        ctx["consent"] = state
    web.emit(event("identify", ts(t), user_id=uid, anonymous_id=anon, traits=traits, context=ctx))
    if not via_context:
        for k, purpose in enumerate(PURPOSES):
            if state[purpose] or purpose in ("marketing_email", "analytics"):
                web.emit(event("track", ts(t + 5 + k), user_id=uid, name="Consent Updated",
                               context={"channel": channel},
                               properties={"purpose": purpose, "granted": state[purpose],
                                           "legal_basis": "consent"}))  # fmt: skip
    _new_contacts(p, i, ri, t, loc, channel, web)
    _consent_changes(uid, ri[9], t, channel, state, hurt_time.get(i), web)
    for purpose, granted in state.items():
        truth.set(f"consent_{purpose}", i, granted)
    if p.influencer[i]:
        _influencer(p, i, ri, t, web)


def _account_traits(p: People, i: int, ri: list[float]) -> dict[str, Any]:
    """What the sign-up form sends: always the name, sometimes a phone, birth date, address."""
    traits: dict[str, Any] = {"email": p.emails[i][0], "firstName": p.first[i],
                              "lastName": p.last[i], "language": p.lang[i],
                              "market": p.market[i]}  # fmt: skip
    if ri[0] < 0.6:
        traits["phone"] = phone_variant(p.phones[i][0], int(ri[1] * 5))
    if ri[2] < 0.65:
        traits["birthDate"] = p.birth[i]
    if ri[3] < 0.75:
        traits["address"] = {"city": p.city[i], "street": p.street[i], "postalCode": p.postal[i]}
    if p.loyalty[i] is not None and ri[4] < 0.55:
        traits["loyaltyId"] = p.loyalty[i]
    return traits


def _new_contacts(p: People, i: int, ri: list[float], t: float, loc: str, channel: str,
                  web: Sink) -> None:  # fmt: skip
    """Later: a new e-mail address, a new phone number."""
    uid = p.user_id[i]
    for k, email in enumerate(p.emails[i][1:]):
        tk = t + (END - t) * (0.3 + 0.3 * k) * ri[6]
        web.emit(event("identify", ts(tk), user_id=uid, traits={"email": email},
                       context={"channel": channel, "locale": loc}))  # fmt: skip
    if len(p.phones[i]) > 1:
        tk = t + (END - t) * ri[7]
        web.emit(event("identify", ts(tk), user_id=uid,
                       traits={"phone": phone_variant(p.phones[i][1], int(ri[8] * 5))},
                       context={"channel": channel}))  # fmt: skip


def _consent_changes(uid: str | None, r: float, t: float, channel: str, state: dict[str, bool],
                     hurt: float | None, web: Sink) -> None:  # fmt: skip
    """Marketing withdrawn (more often after a bad experience), or granted later; ``state``
    is updated in place."""
    for k, purpose in enumerate(
        ("marketing_email", "marketing_sms", "partner_sharing", "profiling")
    ):
        u = (r + 0.37 * k) % 1.0
        if state[purpose] and (u < 0.07 or (hurt is not None and u < 0.35)):
            tk = hurt + DAY * (1 + 5 * u) if hurt is not None else t + (END - t) * (0.2 + 0.7 * u)
            if tk < END:
                web.emit(event("track", ts(tk), user_id=uid, name="Consent Updated",
                               context={"channel": channel},
                               properties={"purpose": purpose, "granted": False,
                                           "legal_basis": "consent"}))  # fmt: skip
                state[purpose] = False
        elif not state[purpose] and u < 0.04:
            tk = t + (END - t) * (0.1 + 0.8 * u / 0.04)
            web.emit(event("track", ts(tk), user_id=uid, name="Consent Updated",
                           context={"channel": channel},
                           properties={"purpose": purpose, "granted": True,
                                       "legal_basis": "consent"}))  # fmt: skip
            state[purpose] = True


def _influencer(p: People, i: int, ri: list[float], t: float, web: Sink) -> None:
    """The CRM's note on an influencer: profession, followers per network, referrals."""
    f = int(p.followers[i])
    share = np.array([0.45, 0.25, 0.15, 0.1, 0.05])[
        np.argsort([(i * 7 + j * 3) % 5 for j in range(5)])
    ]
    traits = {"profession": p.profession[i], "followers": f,
              "followers_by_network": {net: int(f * s) for net, s in zip(NETWORKS, share) if f * s >= 500},
              "vip": p.profession[i] == "vip" or f > 200_000,
              "press": p.profession[i] == "journalist",
              "referrals": int(ri[10] * 40)}  # fmt: skip
    web.emit(event("identify", ts(t + 3600), user_id=p.user_id[i], traits=traits,
                   context={"channel": "crm"}))  # fmt: skip


def emit_subject_requests(p: People, rng: np.random.Generator, web: Sink, truth: Truth) -> None:
    """A few people ask for their data, and a couple ask to be forgotten."""
    users = np.flatnonzero(np.array([u is not None for u in p.user_id]) & ~p.influencer)
    k_access, k_erase = max(2, p.n // 8000), max(1, p.n // 20000)
    chosen = rng.choice(users, size=min(users.size, k_access + k_erase), replace=False).tolist()
    for j, i in enumerate(chosen):
        kind = "access" if j < k_access else "erasure"
        t = END - rng.uniform(2, 120) * DAY
        web.emit(event("track", ts(t), user_id=p.user_id[i], name="Subject Request",
                       context={"channel": "web"}, properties={"kind": kind}))  # fmt: skip
        truth.set("subject_request", i, kind)
