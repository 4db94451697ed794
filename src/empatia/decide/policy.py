"""The policy layer: every decision goes through :func:`choose`.

Rules, in the order they apply (each leaves a note in ``Decision.policy``):

1. **Special care** (#7's ``care_list``) → a human (``human_care``), nothing automatic.
2. **Emotion first**: angry, very negative, or mid-way through an unresolved service journey
   → service recovery (call-back, goodwill credit, apology); never a sales offer.
3. **Consent**, through privacy's one table of uses (``empatia.privacy.USES``): a personal
   pick needs ``personalisation`` and ``profiling`` (without them only non-personal popular
   items, labelled, or nothing, with the reason); a sales message on an outbound channel also
   needs ``marketing_<channel>``; a question needs ``profiling``; a survey ``analytics``; the
   care team's contact ``care`` (until the person objects). Consent that could not be read
   (``PersonState.consents is None``) allows nothing. No consent, no action.
4. **Contact fatigue**: caps per person and channel over ``fatigue_days``.
5. **Suppression after purchase**: nothing the person bought in the last
   ``suppress_same_item_days``; no sales contact at all for ``quiet_after_purchase_hours``.
6. Otherwise the highest-priority eligible action; else a progressive-profiling question,
   a survey (survey fatigue permitting), or — often the right answer — do nothing.

>>> from empatia.decide.catalogue import load_catalogue
>>> d = choose(PersonState("p_1", consents={"marketing_email": True}), [], load_catalogue())
>>> d.action
'do_nothing'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from collections.abc import Callable
from typing import Any

from empatia.decide.catalogue import OUTBOUND, Action, Catalogue
from empatia.privacy import missing_purpose


@dataclass
class Candidate:
    """One precomputed item for a person, with the scores behind it and what explains it."""

    item: str
    score: float
    components: dict[str, float] = field(default_factory=dict)
    name: str | None = None
    category: str | None = None
    count: int = 0  # own purchase occasions of this item
    last_days: float | None = None  # days since the person last bought it
    interval_days: float | None = None  # the person's own interval for it
    because: list[str] = field(default_factory=list)  # own items that explain a co-occurrence
    fallback: bool = False  # not personal: cold start or no personalisation consent

    @property
    def source(self) -> str:
        if self.fallback:
            return "fallback"
        if not self.components:
            return "unknown"
        return max(self.components.items(), key=lambda kv: kv[1])[0]

    @property
    def overdue_days(self) -> float | None:
        if self.last_days is None or self.interval_days is None:
            return None
        return self.last_days - self.interval_days


@dataclass
class PersonState:
    """What the policy knows about a person at decision time (from the other stages)."""

    person_id: str
    #: purpose → granted (absent purposes take privacy's defaults); None: could not be read
    consents: dict[str, bool] | None = field(default_factory=dict)
    anger: float | None = None
    frustration: float | None = None
    sentiment: float | None = None
    #: what the person threatened in the mood window: ``leave`` (to go to a competitor, to
    #: cancel), ``public`` (press, social media), ``legal`` (a lawyer, a court)
    threats: list[str] = field(default_factory=list)
    #: set when the hurt is older than the mood window and nothing made it right since (no
    #: purchase, no kind word): how many days ago it was
    hurt_days_ago: float | None = None
    #: a resolved service case experience marks "succeeded but hurt", within hurt_days and with
    #: no purchase since (a thank-you inside the case does not make it right): its reasons, and
    #: how many days ago it ended
    hurt_case: str | None = None
    hurt_case_days_ago: float | None = None
    unresolved_cases: int = 0
    unresolved_topic: str | None = None
    special_care: bool = False
    care_reason: str | None = None
    contacts: dict[str, int] = field(default_factory=dict)  # outbound contacts in the fatigue window
    hours_since_purchase: float | None = None
    recent_items: dict[str, float] = field(default_factory=dict)  # item → days since bought
    preferred_channel: str | None = None
    clv: float | None = None
    may_survey: bool = True
    next_question: str | None = None
    cold_start: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PersonState:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class LiveContext:
    """What the caller knows right now (real time only)."""

    channel: str | None = None
    near_store: str | None = None
    store_open: bool | None = None
    product_id: str | None = None
    category: str | None = None
    device: str | None = None
    time: datetime | None = None


@dataclass
class Decision:
    person_id: str
    action: str
    kind: str
    channel: str | None
    items: list[str]
    reason: str
    scores: dict[str, Any]
    policy: list[str]
    decided_at: datetime
    expires_at: datetime
    fallback: bool = False
    cost: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["decided_at"] = self.decided_at.isoformat()
        d["expires_at"] = self.expires_at.isoformat()
        return d


@dataclass
class Hooks:
    """Per-person checks owned by other stages, called only when the policy gets that far:
    ``next_question(person_id) -> text | None`` (privacy's progressive profiling) and
    ``may_survey(person_id) -> (allowed, reason)`` (experience's survey fatigue)."""

    next_question: Callable[[str], str | None] | None = None
    may_survey: Callable[[str], tuple[bool, str]] | None = None


#: Action kind → the use of personal data it makes (privacy's table says what each needs).
USE_OF_KIND = {"human": "care_contact", "recovery": "care_contact", "question": "question",
               "survey": "survey", "offer": "generic_offer", "coupon": "generic_offer"}


def consent_for_channel(state: PersonState, action: Action, channel: str,
                        personal: bool = False) -> str | None:  # fmt: skip
    """The consent purpose that is missing for ``action`` on ``channel`` (None: allowed);
    ``personal``: the action carries a pick from the person's own history."""
    if action.purpose == "marketing" and channel == "call":
        return "marketing_call"  # no such consent: nobody is cold-called with offers
    use = USE_OF_KIND.get(action.kind)
    if use is None:
        return None
    if use == "generic_offer" and personal:
        use = "personal_offer"
    return missing_purpose(state.consents, use, channel)


def pick_channel(action: Action, state: PersonState, catalogue: Catalogue,
                 live: LiveContext | None, notes: list[str], personal: bool = False
                 ) -> str | None:  # fmt: skip
    """The first channel of ``action`` the person consented to and is not tired of."""
    p = catalogue.policy
    order = list(action.channels)
    if live and live.channel in order:  # the person is here now: answer where they are
        order.remove(live.channel)
        order.insert(0, live.channel)
    elif state.preferred_channel in order:
        order.remove(state.preferred_channel)
        order.insert(0, state.preferred_channel)
    if live and live.channel:
        # in real time only the live channel or an outbound message makes sense
        order = [c for c in order if c == live.channel or c in OUTBOUND]
    else:
        order = [c for c in order if c in OUTBOUND or c in ("web", "app")]
    total = sum(v for k, v in state.contacts.items() if k in OUTBOUND)
    for ch in order:
        missing = consent_for_channel(state, action, ch, personal)
        if missing:
            notes.append(f"{action.id}: no {missing} consent → not on {ch}")
            continue
        if ch in OUTBOUND:
            cap = p.max_per_channel.get(ch)
            if cap is not None and state.contacts.get(ch, 0) >= cap:
                notes.append(f"{action.id}: {ch} cap reached ({state.contacts.get(ch, 0)}/{cap} "
                             f"in {p.fatigue_days:g} days)")
                continue
            if action.kind not in ("human", "recovery") and total >= p.max_contacts:
                notes.append(f"{action.id}: contact cap reached ({total}/{p.max_contacts} in "
                             f"{p.fatigue_days:g} days) → not on {ch}")
                continue
        return ch
    return None


_THREAT_WORDS = {"leave": "threatened to leave for a competitor",
                 "public": "threatened to go public", "legal": "threatened legal action"}


def _hurt(state: PersonState, catalogue: Catalogue) -> list[str]:
    """How the person was hurt, in words: strong anger or frustration, a very negative last
    message, or a threat (to leave, to go public, to sue) in the mood window."""
    p = catalogue.policy
    why = []
    if state.anger is not None and state.anger >= p.angry_threshold:
        why.append(f"angry ({state.anger:.2f} ≥ {p.angry_threshold})")
    if state.frustration is not None and state.frustration >= p.angry_threshold:
        why.append(f"frustrated ({state.frustration:.2f} ≥ {p.angry_threshold})")
    if state.sentiment is not None and state.sentiment <= p.negative_threshold:
        why.append(f"negative ({state.sentiment:.2f} ≤ {p.negative_threshold})")
    why += [_THREAT_WORDS.get(t, f"threatened: {t}") for t in dict.fromkeys(state.threats)]
    if why and state.hurt_days_ago is not None:
        why = [f"{', '.join(why)} {state.hurt_days_ago:.0f} days ago, and nothing made it right "
               "since (no purchase, no kind word)"]
    if state.hurt_case is not None:
        ago = state.hurt_case_days_ago
        when = f" ended {ago:.0f} days ago" if ago is not None else ""
        why.append(f"a service case that hurt ({state.hurt_case}){when}, and nothing made it "
                   "right since (no purchase)")
    return why


def _upset(state: PersonState, catalogue: Catalogue) -> list[str]:
    why = _hurt(state, catalogue)
    if state.unresolved_cases:
        topic = f" about {state.unresolved_topic}" if state.unresolved_topic else ""
        why.append(f"{state.unresolved_cases} unresolved service case(s){topic}")
    return why


def _decision(state: PersonState, action: Action, channel: str | None, items: list[Candidate],
              reason: str, notes: list[str], now: datetime, scores: dict[str, Any] | None = None
              ) -> Decision:
    return Decision(
        person_id=state.person_id, action=action.id, kind=action.kind, channel=channel,
        items=[c.item for c in items], reason=reason,
        scores=scores if scores is not None else {
            c.item: {"name": c.name or c.item, "score": round(c.score, 4),
                     **{k: round(v, 4) for k, v in c.components.items()}}
            for c in items
        },
        policy=notes, decided_at=now, expires_at=now + timedelta(hours=action.expiry_hours),
        fallback=any(c.fallback for c in items), cost=action.cost,
    )


def choose(state: PersonState, candidates: list[Candidate], catalogue: Catalogue,
           live: LiveContext | None = None, now: datetime | None = None,
           hooks: Hooks | None = None) -> Decision:
    """The next-best action for one person: the policy rules first, then the best offer."""
    now = now or (live.time if live and live.time else datetime.now(UTC))
    notes: list[str] = []
    nothing = catalogue.of_kind("nothing")[0]
    if state.consents is None:  # fail closed
        notes.append("consent could not be read → nothing")
        return _decision(state, nothing, None, [], "Consent could not be checked: nothing is "
                         "done until it can.", notes, now)
    first = (_special_care(state, catalogue, notes, now)  # 1. special care → a human
             or _recovery(state, catalogue, live, notes, now))  # 2. emotion first
    if first is not None:
        return first
    usable, quiet, no_personal = _usable(state, candidates, catalogue, live, notes)
    offer = None if quiet or not usable else _offer(state, usable, catalogue, live, notes, now)
    if offer is not None:
        return offer
    # 6. a question, a survey, or nothing
    tail = f" No personal offer: no consent for {no_personal}." if no_personal else ""
    asked = _question_or_survey(state, catalogue, live, hooks, notes, now, tail)
    if asked is not None:
        return asked
    why = _why_nothing(candidates, usable, quiet, no_personal, notes, catalogue)
    return _decision(state, nothing, None, [], why + ".", notes, now)


def _special_care(state: PersonState, catalogue: Catalogue, notes: list[str], now: datetime
                  ) -> Decision | None:
    if not state.special_care:
        return None
    nothing = catalogue.of_kind("nothing")[0]
    notes.append(f"special care ({state.care_reason or 'care list'}) → a human, no automation")
    objected = missing_purpose(state.consents, "care_contact")
    if objected:
        notes.append(f"no {objected} consent (objected) → no contact")
        return _decision(state, nothing, None, [], f"Special-care customer who objected to "
                         f"contact (no consent for {objected}): the care team reviews the "
                         "case without contacting them.", notes, now)
    for action in catalogue.of_kind("human"):
        ch = pick_channel(action, state, catalogue, None, notes)
        return _decision(state, action, ch, [], f"Special-care customer: "
                         f"{state.care_reason or 'on the care list'}. {action.description}",
                         notes, now)
    return _decision(state, nothing, None, [], "Special-care customer: leave to the care team.",
                     notes, now)


def _recovery(state: PersonState, catalogue: Catalogue, live: LiveContext | None,
              notes: list[str], now: datetime) -> Decision | None:
    """Service recovery for an upset person, never a sales offer (None: not upset)."""
    upset = _upset(state, catalogue)
    if not upset:
        return None
    notes.append("; ".join(upset) + " → service recovery first, no sales offer")
    for action in catalogue.of_kind("recovery"):
        r = action.rules
        if r.get("requires_unresolved") and not state.unresolved_cases:
            continue
        if r.get("requires_negative") and not (_hurt(state, catalogue) or state.unresolved_cases):
            continue
        if "min_clv" in r and (state.clv or 0) < r["min_clv"]:
            continue
        ch = pick_channel(action, state, catalogue, live, notes)
        if ch is None:
            continue
        return _decision(state, action, ch, [], f"{'; '.join(upset).capitalize()}. "
                         f"{action.description}", notes, now,
                         scores={"anger": state.anger, "sentiment": state.sentiment,
                                 "unresolved_cases": state.unresolved_cases})
    return _decision(state, catalogue.of_kind("nothing")[0], None, [],
                     f"{'; '.join(upset).capitalize()}; no channel left for service recovery: "
                     "do nothing rather than sell.", notes, now)


def _usable(state: PersonState, candidates: list[Candidate], catalogue: Catalogue,
            live: LiveContext | None, notes: list[str]
            ) -> tuple[list[Candidate], bool, str | None]:
    """The offers that may be made: (candidates left, quiet after a purchase, the purpose
    whose missing consent left only non-personal picks)."""
    p = catalogue.policy
    # 5. suppression after purchase
    quiet = (state.hours_since_purchase is not None
             and state.hours_since_purchase < p.quiet_after_purchase_hours)
    if quiet:
        notes.append(f"bought {state.hours_since_purchase:.0f} h ago (< "
                     f"{p.quiet_after_purchase_hours:g} h) → no sales contact")
    usable = []
    for c in candidates:
        days = state.recent_items.get(c.item)
        if days is not None and days < p.suppress_same_item_days:
            notes.append(f"suppressed {c.name or c.item}: bought {days:.0f} days ago")
            continue
        usable.append(c)
    # 3. consent for a personal pick
    no_personal = missing_purpose(state.consents, "personal_offer")
    if no_personal and usable and not all(c.fallback for c in usable):
        notes.append(f"no {no_personal} consent → no personal pick")
        usable = [c for c in usable if c.fallback]
    else:
        no_personal = None
    if live and (live.category or live.product_id):
        usable = _in_context(usable, live, notes)
    return usable, quiet, no_personal


def _offer(state: PersonState, usable: list[Candidate], catalogue: Catalogue,
           live: LiveContext | None, notes: list[str], now: datetime) -> Decision | None:
    """The first coupon or offer whose rules the best pick meets, on an allowed channel."""
    from empatia.decide.explain import explain_item

    best = usable[0]
    for action in catalogue.of_kind("coupon", "offer"):
        r = action.rules
        if r.get("requires_near_store") and not (live and live.near_store and
                                                 live.store_open is not False):
            continue
        if "min_overdue_days" in r and (best.overdue_days is None
                                        or best.overdue_days < r["min_overdue_days"]):
            notes.append(f"{action.id}: {best.name or best.item} is not "
                         f"{r['min_overdue_days']:g}+ days overdue")
            continue
        if "min_score" in r and best.score < r["min_score"] and not best.fallback:
            notes.append(f"{action.id}: best pick {best.name or best.item} scores "
                         f"{best.score:.2f} < {r['min_score']:g}")
            continue
        ch = pick_channel(action, state, catalogue, live, notes, not best.fallback)
        if ch is None:
            continue
        items = [best] if action.kind == "coupon" else usable[:3]
        reason = explain_item(best)
        if live and live.near_store and r.get("requires_near_store"):
            reason = f"Near store {live.near_store} now. " + reason
        return _decision(state, action, ch, items, reason, notes, now)
    return None


def _question_or_survey(state: PersonState, catalogue: Catalogue, live: LiveContext | None,
                        hooks: Hooks | None, notes: list[str], now: datetime, tail: str
                        ) -> Decision | None:
    for action in catalogue.of_kind("question"):
        question = state.next_question
        if (question is None and hooks and hooks.next_question
                and missing_purpose(state.consents, "question") is None):
            question = hooks.next_question(state.person_id)
        if question:
            ch = pick_channel(action, state, catalogue, live, notes)
            if ch:
                return _decision(state, action, ch, [], f"One question to know them better: "
                                 f"{question}{tail}", notes, now)
    for action in catalogue.of_kind("survey"):
        recent = action.rules.get("requires_recent_purchase_days")
        bought = state.hours_since_purchase
        if recent and (bought is None or bought > 24 * recent):
            continue
        if not state.may_survey:
            notes.append("survey fatigue → no survey")
            continue
        if hooks and hooks.may_survey:
            ok, why = hooks.may_survey(state.person_id)
            if not ok:
                notes.append(f"no survey: {why}")
                continue
        ch = pick_channel(action, state, catalogue, live, notes)
        if ch:
            return _decision(state, action, ch, [], "Ask how the recent order went." + tail, notes,
                             now)
    return None


def _why_nothing(candidates: list[Candidate], usable: list[Candidate], quiet: bool,
                 no_personal: str | None, notes: list[str], catalogue: Catalogue) -> str:
    """Why nothing is done, in words a CX analyst can act on (never "suppressed by the
    policy"): what stopped the offers — a recent purchase, consent, contact caps, a weak pick."""
    p = catalogue.policy
    if not candidates:
        return "No purchase history and nothing else to say yet"
    if quiet:
        return (f"Just bought: no sales contact for {p.quiet_after_purchase_hours:g} h after a "
                "purchase")
    if not usable and no_personal:
        return f"No consent for {no_personal}: no personal offer"
    if not usable:
        bought = [n.removeprefix("suppressed ") for n in notes if n.startswith("suppressed ")]
        if bought:
            return (f"Everything worth suggesting was bought in the last "
                    f"{p.suppress_same_item_days:g} days ({'; '.join(bought[:3])})")
        return "Nothing to suggest in this context"
    offers = {a.id for a in catalogue.of_kind("coupon", "offer")}
    blocked = [n.split(": ", 1)[1] for n in notes if n.split(": ", 1)[0] in offers]
    best = usable[0]
    if blocked:
        return f"Would suggest {best.name or best.item}, but " + "; ".join(dict.fromkeys(blocked))
    return "Nothing worth saying today"


def _in_context(cands: list[Candidate], live: LiveContext, notes: list[str]) -> list[Candidate]:
    """Move candidates of the session's current category (not the product itself) up."""
    if live.category:
        same = [c for c in cands if c.category == live.category and c.item != live.product_id]
        if same:
            notes.append(f"live context: browsing {live.category} → its items first")
            rest = [c for c in cands if c not in same and c.item != live.product_id]
            return same + rest
    return [c for c in cands if c.item != live.product_id]
