"""Reviews and surveys: what customers say when asked, and when they are not.

Surveys (NPS 0–10, CSAT 1–5, CES 1–7 where 7 means "it was easy") follow deliveries and
resolved service cases; people answer less the more they were asked lately (fatigue), and a
few submissions are bots: impossibly fast, the same text from different people, every
score at the maximum (straight-lining).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from empatia.demo.catalogue import Catalogue
from empatia.demo.orders import STORE, Orders
from empatia.demo.population import LOCALES, People
from empatia.demo.sink import Sink, event
from empatia.demo.texts import SENTIMENT, Composer
from empatia.demo.timeline import DAY, END
from empatia.demo.truth import Truth, ts

_BY_RATING = {
    5: (("joy", 0.45), ("gratitude", 0.3), ("surprise", 0.25)),
    4: (("joy", 0.45), ("neutral", 0.35), ("surprise", 0.2)),
    3: (("neutral", 0.7), ("disappointment", 0.3)),
    2: (("disappointment", 0.6), ("sadness", 0.2), ("frustration", 0.2)),
    1: (("anger", 0.4), ("disappointment", 0.3), ("frustration", 0.2), ("sadness", 0.1)),
}
BOT_TEXTS = ("Very good service, highly recommended, 10/10 best shop!!!",
             "Excellent excellent excellent. Recommend to everyone.")  # fmt: skip


def _pick(u: float, options: tuple[tuple[str, float], ...]) -> str:
    acc = 0.0
    for name, w in options:
        acc += w
        if u < acc:
            return name
    return options[-1][0]


def _ids(p: People, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    if p.user_id[i] is not None:
        return {"user_id": p.user_id[i]}, {}
    if p.cookies[i]:
        return {"anonymous_id": p.cookies[i][0]}, {"email": p.emails[i][0]}
    return {"anonymous_id": p.loyalty[i]}, {"loyaltyId": p.loyalty[i]}


def emit_reviews(p: People, cat: Catalogue, o: Orders, rng: np.random.Generator, c: Composer,
                 sink: Sink, truth: Truth, hurt_time: dict[int, float],
                 care: list[int]) -> None:  # fmt: skip
    m = o.n
    pick = np.flatnonzero(rng.random(m) < np.where(o.channel == STORE, 0.015, 0.05))
    u = rng.random((pick.size, 4)).tolist()
    rating_p = np.array([0.12, 0.07, 0.1, 0.25, 0.46])
    ratings = (1 + rng.choice(5, size=pick.size, p=rating_p)).tolist()
    when = (o.time[pick] + DAY * rng.uniform(3, 25, pick.size)).tolist()
    for j, oj in enumerate(pick.tolist()):
        t = when[j]
        if t >= END:
            continue
        i = int(o.person[oj])
        rating = ratings[j]
        hurt = hurt_time.get(i)
        if hurt is not None and hurt < t < hurt + 60 * DAY:
            rating = 1
        emotion = _pick(u[j][0], _BY_RATING[rating])
        topic = (
            "product" if rating >= 3 or u[j][1] < 0.5 else ("delivery", "damaged")[u[j][2] < 0.4]
        )
        text = c.compose(p.lang[i], emotion, topic, gender=int(p.gender[i]), kind="review")
        product = cat.product_id[int(o.product[o.item_start[oj]])]
        ids, extra = _ids(p, i)
        mid = sink.emit(event("track", ts(t), name="Review Submitted",
                              context={"channel": "web", "locale": LOCALES[p.lang[i]]},
                              properties={"text": text, "rating": rating, "product_id": product,
                                          "public": u[j][3] < 0.8, **extra}, **ids))  # fmt: skip
        truth.text(mid, i, p.lang[i], emotion, "review", rating=rating)
    for i in care:  # the special-care customer goes public
        t = END - 2 * DAY
        text = c.compose(p.lang[i], "anger", "instrument", gender=int(p.gender[i]), kind="review",
                         times=4, public_threat=int(p.followers[i]))  # fmt: skip
        mid = sink.emit(event("track", ts(t), user_id=p.user_id[i], name="Review Submitted",
                              context={"channel": "web", "locale": LOCALES[p.lang[i]]},
                              properties={"text": text, "rating": 1, "public": True,
                                          "product_id": None}))  # fmt: skip
        truth.text(mid, i, p.lang[i], "anger", "review", rating=1, threat=True, effort=True)


def emit_surveys(p: People, o: Orders, rng: np.random.Generator, c: Composer, sink: Sink,
                 truth: Truth, hurt_time: dict[int, float]) -> None:  # fmt: skip
    triggers: list[tuple[float, int, str, str, dict[str, Any]]] = []
    for jr in truth.journeys:
        if jr["resolved"]:
            triggers.append((jr["ended_at"] + 3600, jr["person"], "csat", "support_case", jr))
            if jr["steps"] >= 2 or jr["case_id"][-1] in "02468":
                triggers.append((jr["ended_at"] + 3700, jr["person"], "ces", "support_case", jr))
    online = np.flatnonzero((o.channel != STORE) & (rng.random(o.n) < 0.06))
    for oj in online.tolist():
        triggers.append((float(o.time[oj]) + 3 * DAY, int(o.person[oj]), "nps", "delivery", {}))
    triggers.sort(key=lambda x: x[0])
    sent: dict[int, list[float]] = {}
    u = rng.random((len(triggers), 6)).tolist()
    for j, (t, i, survey, touch, jr) in enumerate(triggers):
        if t >= END:
            continue
        recent = [x for x in sent.get(i, []) if x > t - 30 * DAY]
        sent.setdefault(i, []).append(t)
        ids, extra = _ids(p, i)
        if "anonymous_id" in ids and "email" in extra:
            ids = {"anonymous_id": f"mail:{extra['email']}"}
            truth.identifier("anonymous_id", ids["anonymous_id"], i)
        ctx = {"channel": "email", "locale": LOCALES[p.lang[i]]}
        sink.emit(event("track", ts(t), name="Survey Sent", context=ctx,
                        properties={"survey": survey, "touchpoint": touch, **extra}, **ids))  # fmt: skip
        if u[j][0] > 0.3 * 0.45 ** len(recent):
            continue
        score, emotion = _score(survey, jr, hurt_time.get(i), t, u[j][1])
        props: dict[str, Any] = {"survey": survey, "score": score, "touchpoint": touch, **extra}
        comment = None
        if u[j][2] < 0.4:
            steps = jr.get("steps", 1) if jr else 1
            comment = c.compose(p.lang[i], emotion, jr.get("topic", "delivery") if jr else "delivery",
                                gender=int(p.gender[i]), kind="survey",
                                times=steps if steps >= 3 else (1 if steps == 1 else None))  # fmt: skip
            props["comment"] = comment
        props["duration_seconds"] = int(20 + 200 * u[j][3] ** 2 + (60 if comment else 0))
        ta = t + 3600 * (0.2 + 40 * u[j][4] ** 2)
        mid = sink.emit(event("track", ts(min(ta, END - 1)), name="Survey Answered",
                              context={**ctx, "channel": "web"}, properties=props, **ids))  # fmt: skip
        truth.surveys.append({"message_id": mid, "person": i, "survey": survey, "score": score,
                              "is_bot": False, "bot_reason": None, "answered_at": ta})  # fmt: skip
        if comment:
            truth.text(mid, i, p.lang[i], emotion, "survey", survey=survey)
    _bots(p, rng, sink, truth, list(sent))


def _score(survey: str, jr: dict, hurt: float | None, t: float, u: float) -> tuple[int, str]:
    bad = bool(jr and (jr["succeeded_but_hurt"] or SENTIMENT[jr["final_emotion"]] == "negative"))
    bad |= hurt is not None and hurt < t
    easy = bool(jr) and jr["steps"] == 1
    if survey == "csat":
        s = 1 + int(u * 2) if bad else (4 + int(u * 2) if easy else 3 + int(u * 2))
    elif survey == "ces":
        s = (
            1 + int(u * 3)
            if bad or (jr and jr["steps"] >= 4)
            else (6 + int(u * 2) if easy else 4 + int(u * 3))
        )
    else:
        s = (
            int(u * 7)
            if bad
            else (9 + int(u * 2) if u < 0.5 else 7 + int((u - 0.5) * 4) if u < 0.85 else int(u * 7))
        )
    top = {"csat": 5, "ces": 7, "nps": 10}[survey]
    s = max(0 if survey == "nps" else 1, min(top, s))
    frac = s / top
    emotion = "gratitude" if frac >= 0.9 else "joy" if frac >= 0.8 else "neutral" if frac >= 0.55 else (
        "disappointment" if frac >= 0.3 else "anger")  # fmt: skip
    return s, emotion


def _bots(p: People, rng: np.random.Generator, sink: Sink, truth: Truth, pool: list[int]) -> None:
    """Bot-like submissions through emailed survey links: too fast, copy-pasted, straight-lined."""
    if not pool:
        return
    k = max(6, p.n // 800)
    who = rng.choice(np.array(pool), size=min(k, len(pool)), replace=False).tolist()
    base = END - 20 * DAY
    for j, i in enumerate(who):
        ids, extra = _ids(p, i)
        t = base + j * 37.0
        text = BOT_TEXTS[j % 2]
        for s_i, (survey, score) in enumerate((("nps", 10), ("csat", 5), ("ces", 7))):
            if s_i and j % 3 == 0:
                break  # some only fill the NPS
            props = {"survey": survey, "score": score, "touchpoint": "delivery",
                     "comment": text, "duration_seconds": 1 + (j + s_i) % 2, **extra}  # fmt: skip
            mid = sink.emit(event("track", ts(t + s_i), name="Survey Answered",
                                  context={"channel": "web", "locale": LOCALES[p.lang[i]]},
                                  properties=props, **ids))  # fmt: skip
            reason = "speed, duplicate_text" + (", straight_lining" if j % 3 else "")
            truth.surveys.append({"message_id": mid, "person": i, "survey": survey, "score": score,
                                  "is_bot": True, "bot_reason": reason, "answered_at": t + s_i})  # fmt: skip
            truth.text(mid, i, "en", "joy", "survey", survey=survey, bot=True)
