"""Build the demo world: events as Segment-shaped JSONL, and the ground truth as Parquet.

A fictional omnichannel company (web shop, app, stores, call centre, a travel-booking
service) with customers in PL, DE/AT, GB/IE/US, ES/MX, RU/KZ/BY, IR and FR writing in en, pl,
ru, fa, de, es and fr, over two years ending 2026-11-20. Events follow
``docs/tracking-plan.md``; one JSONL file per source (``demo_web.jsonl``, ``demo_app.jsonl``,
``demo_stores.jsonl``, ``demo_callcentre.jsonl``, ``demo_service.jsonl``,
``demo_booking.jsonl``, ``demo_crm.jsonl``, ``demo_feedback.jsonl``). How identifiers appear:

- web: ``anonymousId`` = a browser cookie, ``userId`` once logged in (an ``identify`` ties
  them); guest checkouts carry ``properties.email``;
- app: ``userId`` + the install's ``anonymousId`` + ``context.device.id``; an ``alias`` on
  the first use of an install; family tablets are shared by several people;
- stores: ``anonymousId`` = ``properties.loyaltyId`` = the loyalty card number;
- call centre: ``anonymousId`` = ``tel:<E.164>`` and ``properties.phone`` typed in varied
  formats; withheld numbers are the shared placeholder ``+48221000000``;
- e-mail tickets: ``anonymousId`` = ``mail:<address>`` and ``properties.email``;
- CRM: ``identify`` with ``userId`` = ``traits.crmId``, names (some with typos), birth date and
  address, rarely a phone: to be matched probabilistically.

Ground truth, never imported (``demo_truth_*.parquet``):

- ``identifiers``: kind (user_id, anonymous_id, email, phone as E.164, device_id,
  loyalty_id, crm_id), value, person_id, shared (a value several people use: never merge);
- ``texts``: message_id → person_id, language, emotion (joy, gratitude, surprise, neutral,
  fear, sadness, disappointment, frustration, anger), sentiment, source (chat, email,
  ticket, call, review, survey), case_id, effort, threat, rating, survey, bot;
- ``journeys``: one row per service case: steps, channel switches, transfers, waits,
  resolved, internal_success, final_emotion, succeeded_but_hurt, churned_after, planted
  (``seven_steps``, ``special_care``);
- ``people``: persona, market, language, names, joined/churned, influencer, profession,
  followers, influence (0–1), special_care, planted_case (``damaged_instrument`` — the
  demo's special-care case — ``seven_steps``, ``care_others``), hurt, shared_device, orders,
  cadence_days, next_purchase_at and the window next_purchase_from/to, consent per purpose
  (final state), crm_typo, subject_request;
- ``surveys``: every answer with is_bot and bot_reason (speed, duplicate_text,
  straight_lining). CES is 1–7 with 7 = "it was easy".

>>> import tempfile, pathlib
>>> files = build_world(pathlib.Path(tempfile.mkdtemp()), customers=200, seed=7)
>>> files.events_total > 1000, sorted(files.truth)[0]
(True, 'identifiers')

The truth files are written next to the events but never imported: the store only ever
sees the events, through the same import path as real data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from empatia.demo.catalogue import make_catalogue
from empatia.demo.feedback import emit_reviews, emit_surveys
from empatia.demo.lifecycle import PURPOSES, emit_lifecycle, emit_subject_requests
from empatia.demo.orders import REGULAR, plan_orders
from empatia.demo.population import (
    PERSONAS, PLACEHOLDER_PHONE, People, add_family_tablets, add_influencers, make_people,
)  # fmt: skip
from empatia.demo.service import emit_service
from empatia.demo.shop import emit_shop
from empatia.demo.sink import Sink
from empatia.demo.texts import SENTIMENT, Composer
from empatia.demo.timeline import END, START
from empatia.demo.truth import Truth

#: progress(step description, steps done, steps in all)
ProgressFn = Callable[[str, int, int], None]
SOURCES = ("web", "app", "stores", "callcentre", "service", "booking", "crm", "feedback")
STEPS = ("people", "service journeys", "orders", "shopping", "accounts and consent",
         "reviews and surveys", "truth")  # fmt: skip


@dataclass
class WorldFiles:
    """What :func:`build_world` wrote."""

    out_dir: Path
    events: list[Path]
    truth: dict[str, Path]
    counts: dict[str, int]
    customers: int
    seed: int
    seconds: float
    planted: dict[str, list[str]] = field(default_factory=dict)

    @property
    def events_total(self) -> int:
        return sum(self.counts.values())


def build_world(
    out_dir: Path, customers: int = 100_000, seed: int = 42, progress: ProgressFn | None = None
) -> WorldFiles:
    """Generate ``customers`` people and everything they did over two years, reproducibly."""
    if not 100 <= customers <= 10_000_000:
        from empatia.errors import ConfigError

        raise ConfigError(f"customers must be between 100 and 10,000,000, not {customers}")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda *_: None)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(12)]
    composer = Composer(seed)
    report(STEPS[0], 0, len(STEPS))
    p = make_people(customers, rngs[0])
    influencers = add_influencers(p, rngs[1])
    add_family_tablets(p, rngs[2])
    cat = make_catalogue(rngs[3])
    planted = _plant(p, influencers, rngs[4])
    truth = Truth()
    sinks = {s: Sink(out_dir / f"demo_{s}.jsonl", f"{seed:x}{s[:2]}-") for s in SOURCES}
    try:
        report(STEPS[1], 1, len(STEPS))
        plan = emit_service(p, rngs[5], composer, sinks["service"], sinks["callcentre"],
                            sinks["booking"], truth, planted)  # fmt: skip
        for i, t in plan.churn.items():
            p.churn[i] = min(p.churn[i], t)
        report(STEPS[2], 2, len(STEPS))
        orders = plan_orders(p, cat, rngs[6])
        report(STEPS[3], 3, len(STEPS))
        emit_shop(p, cat, orders, rngs[7], sinks["web"], sinks["app"], sinks["stores"], truth)
        report(STEPS[4], 4, len(STEPS))
        emit_lifecycle(p, rngs[8], sinks["web"], sinks["crm"], sinks["stores"], truth,
                       plan.hurt_time)  # fmt: skip
        emit_subject_requests(p, rngs[9], sinks["web"], truth)
        report(STEPS[5], 5, len(STEPS))
        emit_reviews(p, cat, orders, rngs[10], composer, sinks["feedback"], truth, plan.hurt_time,
                     planted["special_care"])  # fmt: skip
        emit_surveys(p, orders, rngs[11], composer, sinks["feedback"], truth, plan.hurt_time)
    finally:
        for s in sinks.values():
            s.close()
    report(STEPS[6], 6, len(STEPS))
    paths = write_truth(out_dir, p, orders, truth, planted, plan.hurt_time)
    counts = {name: s.count for name, s in sinks.items()}
    files = WorldFiles(
        out_dir=out_dir, events=[s.path for s in sinks.values()], truth=paths, counts=counts,
        customers=customers, seed=seed, seconds=time.perf_counter() - t0,
        planted={k: [p.person_id[i] for i in v] for k, v in planted.items()},
    )  # fmt: skip
    (out_dir / "demo_world.json").write_text(json.dumps({
        "customers": customers, "seed": seed, "events": counts, "seconds": round(files.seconds, 2),
        "planted": files.planted,
    }, indent=2))  # fmt: skip
    report("done", len(STEPS), len(STEPS))
    return files


def _plant(p: People, influencers: np.ndarray, rng: np.random.Generator) -> dict[str, list[int]]:
    """Choose the people of the planted cases and give them the history the story needs."""
    inf = influencers.tolist()
    care = inf[:1]
    others = inf[1 : 1 + max(2, p.n // 25_000)]
    busy = set(inf) | set(p.shared_devices)
    users = [i for i in np.flatnonzero(np.array([u is not None for u in p.user_id])).tolist()
             if i not in busy]  # fmt: skip
    seven = rng.choice(np.array(users), size=max(2, p.n // 20_000), replace=False).tolist()
    for i in care:
        p.profession[i] = "musician"
        p.followers[i] = 184_000
    for j, i in enumerate(others):
        p.profession[i] = ("journalist", "blogger", "musician")[j % 3]
        p.followers[i] = max(int(p.followers[i]), 40_000)
    for i in care + others + seven:
        p.persona[i] = REGULAR
        p.join[i] = START
        p.churn[i] = END
        p.activity[i] = max(p.activity[i], 2.5)
        if not p.cookies[i] and not p.devices[i]:
            p.cookies[i] = [f"{i:08x}-demo-4000-8000-{p.n:012x}"]
    return {"seven_steps": seven, "special_care": care, "care_others": others}


def write_truth(out_dir: Path, p: People, o, truth: Truth, planted: dict[str, list[int]],
                hurt_time: dict[int, float]) -> dict[str, Path]:  # fmt: skip
    pid = np.array(p.person_id)
    rows: list[tuple[str, str | None, int, bool]] = list(truth.identifiers)
    tablet_members = set(p.shared_devices)
    for i in range(p.n):
        if p.user_id[i]:
            rows.append(("user_id", p.user_id[i], i, False))
        rows += [("email", e, i, False) for e in p.emails[i]]
        rows += [("phone", ph, i, False) for ph in p.phones[i]]
        rows += [("anonymous_id", c, i, False) for c in p.cookies[i]]
        for dev, inst in p.devices[i]:
            shared = i in tablet_members and p.shared_devices[i][0] == dev
            rows += [("device_id", dev, i, shared), ("anonymous_id", inst, i, shared)]
        if p.loyalty[i]:
            rows += [
                ("loyalty_id", p.loyalty[i], i, False),
                ("anonymous_id", p.loyalty[i], i, False),
            ]
        if p.crm[i]:
            rows += [("crm_id", p.crm[i], i, False), ("user_id", p.crm[i], i, False)]
    ids = pd.DataFrame(rows, columns=["kind", "value", "person", "shared"])
    ids = ids.groupby(["kind", "value", "person"], as_index=False)["shared"].max()
    ids.loc[ids.value.isin([PLACEHOLDER_PHONE, f"tel:{PLACEHOLDER_PHONE}"]), "shared"] = True
    ids.insert(2, "person_id", pid[ids.pop("person").to_numpy()])

    texts = pd.DataFrame(truth.texts).reindex(columns=[
        "message_id", "person", "language", "emotion", "source", "case_id", "effort", "threat",
        "rating", "survey", "bot"])  # fmt: skip
    texts["sentiment"] = texts.emotion.map(SENTIMENT)
    for col in ("effort", "threat", "bot"):
        texts[col] = texts[col].eq(True) if col in texts else False
    texts.insert(1, "person_id", pid[texts.pop("person").to_numpy()])

    jr = pd.DataFrame(truth.journeys)
    jr.insert(1, "person_id", pid[jr.pop("person").to_numpy()])
    for col in ("started_at", "ended_at"):
        jr[col] = _dt(jr[col].to_numpy())

    sv = pd.DataFrame(truth.surveys)
    sv.insert(1, "person_id", pid[sv.pop("person").to_numpy()])
    sv["answered_at"] = _dt(sv["answered_at"].to_numpy())

    n_orders = np.bincount(o.person, minlength=p.n)
    last = np.full(p.n, np.nan)
    if o.n:
        ends = np.flatnonzero(np.concatenate([o.person[1:] != o.person[:-1], [True]]))
        last[o.person[ends]] = o.time[ends]
    special = np.zeros(p.n, bool)
    special[planted["special_care"] + planted["care_others"]] = True
    planted_case = np.full(p.n, None, dtype=object)
    for name, who in planted.items():
        planted_case[who] = {"special_care": "damaged_instrument"}.get(name, name)
    dt = _dt
    people = pd.DataFrame({
        "person_id": pid, "persona": np.array(PERSONAS)[p.persona], "market": p.market,
        "language": p.lang, "gender": np.where(p.gender == 1, "female", "male"),
        "first_name": p.first, "last_name": p.last, "birth_date": p.birth, "city": p.city,
        "joined_at": dt(np.maximum(p.join, START)),
        "churned_at": dt(np.where(p.churn < END, p.churn, np.nan)),
        "has_account": [u is not None for u in p.user_id],
        "influencer": p.influencer, "profession": p.profession, "followers": p.followers,
        "influence": np.round(np.log10(p.followers + 1) / np.log10(3_000_001), 3),
        "special_care": special, "planted_case": planted_case,
        "hurt": [i in hurt_time for i in range(p.n)],
        "shared_device": [i in tablet_members for i in range(p.n)],
        "n_orders": n_orders, "last_purchase_at": dt(last),
        "cadence_days": np.round(o.cadence, 1),
        "next_purchase_at": dt(o.next_at), "next_purchase_from": dt(o.next_from).dt.floor("D"),
        "next_purchase_to": dt(o.next_to).dt.ceil("D"),
    })  # fmt: skip
    for col, values in sorted(truth.person.items()):
        people[col] = pd.Series(values, dtype=object).reindex(range(p.n)).to_numpy()
    for col in ("crm_typo", "subject_request", *(f"consent_{x}" for x in PURPOSES)):
        if col not in people:
            people[col] = None
    for col in [c for c in people if c.startswith("consent_")] + ["crm_typo"]:
        people[col] = people[col].eq(True)
    paths = {}
    for name, df in (("identifiers", ids), ("texts", texts), ("journeys", jr), ("people", people),
                     ("surveys", sv)):  # fmt: skip
        path = out_dir / f"demo_truth_{name}.parquet"
        df.to_parquet(path, index=False)
        paths[name] = path
    return paths


def _dt(a: np.ndarray) -> pd.Series:
    """Epoch seconds (nan: none) as UTC timestamps, converted exactly through integers."""
    a = np.asarray(a, dtype=np.float64)
    ok = np.isfinite(a)
    us = np.zeros(a.shape, dtype=np.int64)
    us[ok] = np.round(a[ok] * 1e6).astype(np.int64)
    stamps = us.astype("datetime64[us]")
    stamps[~ok] = np.datetime64("NaT")
    return pd.Series(pd.DatetimeIndex(stamps).tz_localize("UTC"))
