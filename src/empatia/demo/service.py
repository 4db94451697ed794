"""Service journeys: bookings and their problems, support contacts across chat, phone, e-mail
and stores, with waits, transfers, repeated contacts and channel switches; the company's own
view (``internal_success``, ``agent_rating_internal``) next to what customers say.

Planted cases: the "seven steps" airline customers (booking finally fixed, internally a
success, customer furious and gone) and the special-care musician whose instrument was
damaged in transit and whose contacts were ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from empatia.demo.population import LOCALES, PLACEHOLDER_PHONE, People
from empatia.demo.sink import Sink, event
from empatia.demo.texts import SENTIMENT, Composer
from empatia.demo.timeline import DAY, END, START, draw_times
from empatia.demo.truth import Truth, phone_variant, ts

TOPICS = ("delivery", "damaged", "refund", "app", "billing", "product", "staff", "booking")
TOPIC_W = (0.25, 0.12, 0.15, 0.12, 0.1, 0.18, 0.08, 0.0)
ROUTES = ("WAW-LHR", "MAD-JFK", "IKA-IST", "FRA-BCN", "KRK-CDG", "SVO-DXB", "MUC-MAD", "LHR-JFK",
          "BER-WAW", "ALA-FRA", "THR-FRA", "BCN-MEX")  # fmt: skip
_HURT = {"anger", "frustration", "disappointment"}
STEPS_P = (0.55, 0.2, 0.1, 0.06, 0.04, 0.025, 0.015, 0.01)


@dataclass
class Plan:
    """What service did to people, for the stages generated after it."""

    hurt_time: dict[int, float] = field(default_factory=dict)  # person → end of a hurt journey
    churn: dict[int, float] = field(default_factory=dict)  # person → stopped buying at


@dataclass
class Case:
    person: int
    start: float
    topic: str
    steps: int
    planted: str | None = None
    resolved: bool = True
    threat_public: int | None = None
    channels: list[str] | None = None


class ServiceWriter:
    def __init__(self, p: People, rng: np.random.Generator, composer: Composer, service: Sink,
                 calls: Sink, booking: Sink, truth: Truth) -> None:  # fmt: skip
        self.p, self.rng, self.c, self.truth = p, rng, composer, truth
        self.service, self.calls, self.booking = service, calls, booking
        self.n_case = 0
        self.n_booking = -1
        self.bookings: dict[int, list[tuple[float, str, str]]] = {}

    # -- identity per channel -----------------------------------------------------------------
    def _who(self, i: int, channel: str, u: float) -> tuple[dict[str, Any], dict[str, Any]]:
        ids: dict[str, Any]
        props: dict[str, Any]
        p, ids, props = self.p, {}, {}
        uid = p.user_id[i]
        if channel == "store" and p.loyalty[i] is None:
            channel = "phone"
        if channel == "chat" and not p.cookies[i] and not p.devices[i]:
            channel = "email"
        if channel == "phone":
            shared = u < 0.05
            num = PLACEHOLDER_PHONE if shared else p.phones[i][int(u * 10) % len(p.phones[i])]
            ids["anonymous_id"] = f"tel:{num}"
            props["phone"] = phone_variant(num, int(u * 100))
            self.truth.identifier("anonymous_id", f"tel:{num}", i, shared)
            if shared:
                self.truth.identifier("phone", num, i, True)
            if uid is not None and u < 0.35:
                ids["user_id"] = uid
        elif channel == "chat":
            if p.cookies[i]:
                ids["anonymous_id"] = p.cookies[i][-1]
            else:
                ids["anonymous_id"] = p.devices[i][0][1]
            if uid is not None and u < 0.8:
                ids["user_id"] = uid
            elif uid is None:
                props["email"] = p.emails[i][0]
        elif channel == "email":
            email = p.emails[i][-1 if u < 0.5 else 0]
            ids["anonymous_id"] = f"mail:{email}"
            props["email"] = email
            self.truth.identifier("anonymous_id", f"mail:{email}", i)
            if uid is not None and u < 0.5:
                ids["user_id"] = uid
        else:
            ids["anonymous_id"] = p.loyalty[i]
            props["loyaltyId"] = p.loyalty[i]
        ch = {"phone": "call_centre"}.get(channel, channel)
        return ids, {"channel": ch, "locale": LOCALES[p.lang[i]], "_contact": channel, **props}

    # -- bookings ---------------------------------------------------------------------------------
    def bookings_for(self, people: np.ndarray, rate_days: float) -> None:
        p, rng = self.p, self.rng
        lo = np.maximum(p.join[people], START)
        k = rng.poisson(
            np.maximum(p.churn[people] - lo, DAY) / DAY / rate_days * p.activity[people]
        )
        k = np.maximum(k, 1)
        who = np.repeat(people, k)
        t = draw_times(rng, np.maximum(p.join[who], START), p.churn[who], "travel", "shop")
        route = rng.integers(0, len(ROUTES), who.size).tolist()
        for i, tt, rr in zip(who.tolist(), t.tolist(), route):
            self.n_booking += 1
            bid = f"B{700_000 + self.n_booking}"
            self.bookings.setdefault(i, []).append((tt, bid, ROUTES[rr]))
            ids, ctx = self._booking_ids(i)
            self.booking.emit(event("track", ts(tt), name="Booking Created", context=ctx,
                                    properties={"booking_id": bid, "route": ROUTES[rr],
                                                "status": "confirmed", **ctx.pop("_props")},
                                    **ids))  # fmt: skip

    def _booking_ids(self, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
        p = self.p
        ctx: dict[str, Any] = {"channel": "booking", "locale": LOCALES[p.lang[i]], "_props": {}}
        if p.user_id[i] is not None:
            return {"user_id": p.user_id[i]}, ctx
        ctx["_props"] = {"email": p.emails[i][0]}
        anon = p.cookies[i][0] if p.cookies[i] else f"mail:{p.emails[i][0]}"
        if anon.startswith("mail:"):
            self.truth.identifier("anonymous_id", anon, i)
        return {"anonymous_id": anon}, ctx

    # -- one service journey --------------------------------------------------------------------
    def case(self, cs: Case, plan: Plan) -> None:
        p, rng, i = self.p, self.rng, cs.person
        self.n_case += 1
        cid = f"C{500_000 + self.n_case}"
        t = cs.start
        chan = cs.channels or []
        u = rng.random(cs.steps * 6 + 8).tolist()
        ch = chan[0] if chan else ("chat", "phone", "email")[int(u[0] * 3)]
        total_wait, live_wait, transfers, switches, last_emotion = 0.0, 0.0, 0, 0, "neutral"
        prev = None
        booking = None
        if cs.topic in ("booking", "instrument") and self.bookings.get(i):
            booking = max((b for b in self.bookings[i] if b[0] < t), default=self.bookings[i][0])
        for k in range(cs.steps):
            if t >= END - 4 * 3600:
                break  # the journey is still going on when the world ends
            if k and not (chan and k < len(chan)):
                if u[6 * k] < 0.45:
                    ch = ("chat", "phone", "email", "store")[
                        int(u[6 * k + 1] * (4 if p.loyalty[i] else 3))
                    ]
            elif chan and k < len(chan):
                ch = chan[k]
            ids, ctx = self._who(i, ch, u[6 * k + 2])
            contact = ctx.pop("_contact")
            extra: dict[str, Any] = {
                key: ctx.pop(key) for key in ("phone", "email", "loyaltyId") if key in ctx
            }
            if prev is not None and contact != prev:
                switches += 1
            prev = contact
            wait = self._wait(contact, k, u[6 * k + 3], cs.planted)
            transferred = contact in ("phone", "chat") and u[6 * k + 4] < 0.08 + 0.08 * k + (
                0.4 if cs.planted == "seven_steps" else 0
            )
            transfers += transferred
            total_wait += wait
            live_wait += wait if contact != "email" else 0.0
            rating = 5 if u[6 * k + 5] < 0.55 else 4 if u[6 * k + 5] < 0.9 else 3
            if k == 0:
                self._open(cs, cid, t, ctx, ids, extra, booking)
            sink = self.calls if contact == "phone" else self.service
            sink.emit(event("track", ts(t), name="Support Contact", context=ctx,
                            properties={"case_id": cid, "channel": contact, "wait_seconds": int(wait),
                                        "transferred": bool(transferred),
                                        "agent_rating_internal": rating, "topic": cs.topic, **extra},
                            **ids))  # fmt: skip
            emotion = self._emotion(k, cs, u[6 * k + 1])
            last_emotion = emotion
            if contact != "store" and (contact != "phone" or u[6 * k + 5] < 0.8):
                self._say(cs, cid, k, contact, emotion, t, wait, ctx, ids, extra, u)
            gap = DAY * (0.2 + 2.5 * u[6 * k + 2]) if cs.planted != "special_care" else DAY * 2.3
            t += wait + gap
        end = t
        resolved = cs.resolved and end < END
        internal = False
        if resolved:
            internal, last_emotion = self._resolve(cs, cid, end, prev, booking, u)
        hurt = internal and (
            cs.steps >= 5 or live_wait >= 5400 or (cs.steps >= 2 and last_emotion in _HURT)
        )
        churned = False
        if (hurt or not resolved and cs.steps >= 3) and (
            u[-7] < 0.55 or cs.planted == "seven_steps"
        ):
            plan.churn[i] = min(plan.churn.get(i, END), end + DAY * (1 + 10 * u[-8]))
            churned = True
        if hurt or (not resolved and SENTIMENT[last_emotion] == "negative"):
            plan.hurt_time[i] = end
        self.truth.journeys.append({
            "case_id": cid, "person": i, "topic": cs.topic, "started_at": cs.start, "ended_at": end,
            "steps": cs.steps, "channel_switches": switches, "transfers": transfers,
            "total_wait_seconds": int(total_wait), "live_wait_seconds": int(live_wait),
            "resolved": resolved, "internal_success": internal,
            "final_emotion": last_emotion, "succeeded_but_hurt": bool(hurt),
            "churned_after": churned, "planted": cs.planted,
            "booking_id": booking[1] if booking and cs.topic == "booking" else None,
        })  # fmt: skip

    def _open(self, cs: Case, cid: str, t: float, ctx: dict[str, Any], ids: dict[str, Any],
              extra: dict[str, Any], booking: tuple | None) -> None:  # fmt: skip
        """The case is opened; an airline's change to the booking comes an hour before."""
        i = cs.person
        self.service.emit(event("track", ts(t - 1), name="Case Opened", context=ctx,
                                properties={"case_id": cid, "topic": cs.topic, **extra},
                                **ids))  # fmt: skip
        if booking and cs.topic == "booking":
            bids, bctx = self._booking_ids(i)
            self.booking.emit(event("track", ts(t - 3600), name="Booking Changed",
                                    context={"channel": "booking"},
                                    properties={"booking_id": booking[1], "route": booking[2],
                                                "status": "changed_by_airline"}, **bids))  # fmt: skip

    def _say(self, cs: Case, cid: str, k: int, contact: str, emotion: str, t: float, wait: float,
             ctx: dict[str, Any], ids: dict[str, Any], extra: dict[str, Any],
             u: list[float]) -> None:  # fmt: skip
        """What the customer said at step ``k``: a call transcript or a written message."""
        p, i = self.p, cs.person
        lang, g = p.lang[i], int(p.gender[i])
        times = k + 1 if k >= 2 else None
        if cs.planted == "seven_steps" and k == cs.steps - 1:
            times = 7
        text = self.c.compose(lang, emotion, cs.topic, gender=g,
                              kind="call" if contact == "phone" else "message", times=times, channel=contact,
                              wait_minutes=int(wait / 60) if wait >= 1200 and contact != "email" else None,
                              threat=k >= 3 and u[6 * k + 4] < 0.45,
                              public_threat=cs.threat_public if k == cs.steps - 1 else None)  # fmt: skip
        tt = min(t + min(wait, 3 * 3600) + 60, END - 60)
        if contact == "phone":
            mid = self.calls.emit(event("track", ts(tt), name="Call Transcribed", context=ctx,
                                        properties={"text": text, "case_id": cid,
                                                    "duration_seconds": int(120 + u[6 * k] * 900),
                                                    **extra}, **ids))  # fmt: skip
            source = "call"
        else:
            source = "chat" if contact == "chat" else ("ticket" if u[6 * k] < 0.3 else "email")
            mid = self.service.emit(event("track", ts(tt), name="Message Sent", context=ctx,
                                          properties={"text": text, "case_id": cid,
                                                      "channel": source, **extra}, **ids))  # fmt: skip
        self.truth.text(mid, i, lang, emotion, source, case_id=cid,
                        effort=times is not None or wait >= 1200,
                        threat=k >= 3 and u[6 * k + 4] < 0.45 or bool(cs.threat_public))  # fmt: skip

    def _resolve(self, cs: Case, cid: str, end: float, prev: str | None, booking: tuple | None,
                 u: list[float]) -> tuple[bool, str]:  # fmt: skip
        """Close a resolved case (and fix its booking); the customer may have a last word.
        Returns whether the company counts it a success, and the customer's final emotion."""
        p, i = self.p, cs.person
        lang, g = p.lang[i], int(p.gender[i])
        resolution = "fixed" if cs.topic in ("booking", "app", "delivery") else (
            "refunded" if u[-1] < 0.6 else "closed")  # fmt: skip
        internal = u[-2] < 0.93 or cs.planted == "seven_steps"
        ids, ctx = self._who(i, prev or "email", u[-3])
        ctx.pop("_contact")
        extra: dict[str, Any] = {
            key: ctx.pop(key) for key in ("phone", "email", "loyaltyId") if key in ctx
        }
        self.service.emit(event("track", ts(end), name="Case Resolved", context=ctx,
                                properties={"case_id": cid, "topic": cs.topic,
                                            "resolution": resolution,
                                            "internal_success": bool(internal), **extra},
                                **ids))  # fmt: skip
        if cs.topic == "booking" and booking:
            bids, _ = self._booking_ids(i)
            self.booking.emit(event("track", ts(end - 60), name="Booking Fixed",
                                    context={"channel": "booking"},
                                    properties={"booking_id": booking[1], "route": booking[2],
                                                "status": "confirmed"}, **bids))  # fmt: skip
        # the customer's last word on it
        final = "anger" if cs.planted == "seven_steps" else self._final(cs, u[-4])
        if u[-5] < 0.55 or cs.planted == "seven_steps":
            hard = cs.steps >= 3
            text = self.c.compose(lang, final, cs.topic, gender=g, kind="message",
                                  times=cs.steps if hard else 1,
                                  threat=cs.planted == "seven_steps" or (hard and u[-6] < 0.3))  # fmt: skip
            ids, ctx = self._who(i, "email", u[-5])
            ctx.pop("_contact")
            extra = {key: ctx.pop(key) for key in ("phone", "email") if key in ctx}
            tm = min(end + 3600 * (1 + 5 * u[-5]), END - 60)
            mid = self.service.emit(event("track", ts(tm), name="Message Sent", context=ctx,
                                          properties={"text": text, "case_id": cid,
                                                      "channel": "email", **extra},
                                          **ids))  # fmt: skip
            self.truth.text(mid, i, lang, final, "email", case_id=cid, effort=hard,
                            threat=cs.planted == "seven_steps")  # fmt: skip
        return internal, final

    def _wait(self, contact: str, k: int, u: float, planted: str | None) -> float:
        z = np.sqrt(2) * _erfinv(2 * min(max(u, 1e-6), 1 - 1e-6) - 1)
        if planted == "seven_steps":
            return 1800 + 5400 * u if contact == "phone" else 600 + 3000 * u
        if planted == "special_care":
            return 3 * DAY if contact == "email" else 2400 + 4000 * u
        med, sd = {"phone": (480, 0.9), "chat": (120, 0.8), "email": (18 * 3600, 0.7),
                   "store": (360, 0.5)}[contact]  # fmt: skip
        return float(med * np.exp(sd * z) * (1 + 0.3 * k))

    def _emotion(self, k: int, cs: Case, u: float) -> str:
        if cs.planted:
            return (
                ("frustration", "anger")[k >= 2 and u < 0.7]
                if k
                else ("sadness" if cs.planted == "special_care" else "fear")
            )
        if k == 0:
            if cs.steps == 1:
                return _pick(
                    u,
                    ("neutral", 0.5),
                    ("fear", 0.15),
                    ("disappointment", 0.2),
                    ("frustration", 0.15),
                )
            return _pick(u, ("neutral", 0.3), ("fear", 0.15), ("disappointment", 0.2), ("frustration", 0.2),
                         ("sadness", 0.15))  # fmt: skip
        if k == 1:
            return _pick(u, ("frustration", 0.55), ("disappointment", 0.25), ("anger", 0.2))
        return _pick(u, ("anger", 0.5), ("frustration", 0.5))

    def _final(self, cs: Case, u: float) -> str:
        if cs.steps <= 1:
            return _pick(u, ("gratitude", 0.55), ("joy", 0.1), ("surprise", 0.1), ("neutral", 0.25))
        if cs.steps == 2:
            return _pick(u, ("gratitude", 0.4), ("neutral", 0.3), ("disappointment", 0.3))
        if cs.steps == 3:
            return _pick(u, ("disappointment", 0.3), ("frustration", 0.2), ("gratitude", 0.3),
                         ("neutral", 0.2))  # fmt: skip
        return _pick(u, ("anger", 0.45), ("disappointment", 0.25), ("frustration", 0.15),
                     ("gratitude", 0.15))  # fmt: skip


def _pick(u: float, *options: tuple[str, float]) -> str:
    acc = 0.0
    for name, w in options:
        acc += w
        if u < acc:
            return name
    return options[-1][0]


def _erfinv(y: float) -> float:
    a = 0.147
    ln = np.log(1 - y * y)
    t = 2 / (np.pi * a) + ln / 2
    return float(np.sign(y) * np.sqrt(np.sqrt(t * t - ln / a) - t))


def emit_service(p: People, rng: np.random.Generator, composer: Composer, service: Sink,
                 calls: Sink, booking: Sink, truth: Truth, planted: dict[str, list[int]]) -> Plan:  # fmt: skip
    """Generate bookings and every service journey; return who was hurt and who stopped buying."""
    w = ServiceWriter(p, rng, composer, service, calls, booking, truth)
    plan = Plan()
    travellers = np.flatnonzero(p.persona == 4)
    special = planted["seven_steps"] + planted["special_care"] + planted["care_others"]
    w.bookings_for(np.union1d(travellers, np.array(special, dtype=int)), 150.0)
    n = p.n
    lo = np.maximum(p.join, START)
    lam = 0.08 + 0.05 * p.activity + 0.25 * (p.persona == 4)
    k = rng.poisson(lam * np.maximum(p.churn - lo, DAY) / (365 * DAY))
    for i in special:
        k[i] = 0
    who = np.repeat(np.arange(n), k)
    start = draw_times(rng, lo[who], p.churn[who], "service", "service")
    topic = rng.choice(len(TOPICS), size=who.size, p=TOPIC_W)
    topic = np.where(
        (p.persona[who] == 4) & (rng.random(who.size) < 0.6), TOPICS.index("booking"), topic
    )
    steps = 1 + rng.choice(len(STEPS_P), size=who.size, p=STEPS_P)
    cases = [Case(i, t, TOPICS[tp], s) for i, t, tp, s in
             zip(who.tolist(), start.tolist(), topic.tolist(), steps.tolist())]  # fmt: skip
    for j, i in enumerate(planted["seven_steps"]):
        t = END - DAY * (70 + 40 * j % 200)
        cases.append(Case(i, t, "booking", 7, planted="seven_steps",
                          channels=["phone", "phone", "chat", "email", "phone", "chat", "phone"]))  # fmt: skip
    for i in planted["special_care"]:
        cases.append(Case(i, END - 17 * DAY, "instrument", 4, planted="special_care", resolved=False,
                          threat_public=int(p.followers[i]),
                          channels=["email", "phone", "email", "chat"]))  # fmt: skip
    for j, i in enumerate(planted["care_others"]):
        cases.append(Case(i, END - DAY * (15 + 4 * j), ("damaged", "delivery", "refund")[j % 3],
                          4 + j % 2, resolved=j % 2 == 0,
                          threat_public=int(p.followers[i]) if j % 2 else None))  # fmt: skip
    cases.sort(key=lambda c: c.start)
    for cs in cases:
        w.case(cs, plan)
    return plan
