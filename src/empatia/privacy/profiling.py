"""Progressive profiling: the right question at the right time, never too many (S11).

Trust is built step by step, so a person is asked at most one question, and only when:

- they agreed to what a question needs (``profiling``: privacy's table of uses);
- the relationship is far enough along for that question (``new`` < ``active`` < ``loyal``,
  from tenure and orders);
- nothing was asked recently (``cooldown_days``), and the recent experience was not bad
  (no negative text in the last ``calm_days``, when the emotion tables exist);
- the answer is not known already (a trait of the profile, or an earlier answer) and the
  question was not declined before.

Answers become traits (``profiling_answers``, read by the profiles stage) and carry consent
for the question's purpose. The decision layer offers :func:`next_question` as an action.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from empatia.errors import ConfigError, NotFoundError, ValidationError
from empatia.privacy import consent
from empatia.store import Store

STAGES = ("new", "active", "loyal")


@dataclass(frozen=True)
class Question:
    id: str
    trait: str
    purpose: str
    stage: str
    text: str
    answers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    cooldown_days: int = 30
    calm_days: int = 30
    active_after_days: int = 30
    loyal_after_days: int = 180
    loyal_orders: int = 3


@dataclass
class Decision:
    """The question to ask (or None) and why."""

    question: Question | None
    stage: str | None = None
    reasons: list[str] = field(default_factory=list)


def load_bank(path: str | Path | None = None) -> list[Question]:
    """The question bank: ``path`` or the packaged ``questions.toml``."""
    try:
        text = (
            Path(path).read_text()
            if path
            else resources.files("empatia.privacy").joinpath("questions.toml").read_text()
        )
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the question bank {path}: {e}") from e
    out = []
    for q in data.get("question", []):
        try:
            question = Question(
                id=q["id"], trait=q["trait"], purpose=q["purpose"], stage=q["stage"],
                text=q["text"], answers=tuple(q.get("answers", ())),
            )  # fmt: skip
        except KeyError as e:
            raise ConfigError(f"question {q.get('id', '?')} lacks {e.args[0]!r}") from e
        if question.stage not in STAGES:
            raise ConfigError(
                f"question {question.id}: stage {question.stage!r}; use one of {', '.join(STAGES)}"
            )
        consent.purpose_key(question.purpose)
        out.append(question)
    return out


def _one(store: Store, sql: str, params: list[object]) -> tuple | None:  # type: ignore[type-arg]
    cur = store.cursor()
    try:
        return cur.execute(sql, params).fetchone()
    finally:
        cur.close()


def relationship(store: Store, person_id: str, policy: Policy) -> tuple[str, datetime]:
    """The person's relationship stage and what "now" is (the store's latest event)."""
    row = None
    if store.table_exists("profiles"):
        row = _one(store, "select first_seen, coalesce(orders, 0), as_of from profiles"
                   " where person_id = ?", [person_id])  # fmt: skip
    if row is None and store.table_exists("event_persons"):
        row = _one(
            store,
            "select min(e.timestamp), count(*) filter (where e.event = 'Order Completed'),"
            " (select max(timestamp) from events) from events e"
            " join event_persons p using (seq) where p.person_id = ?",
            [person_id],
        )
    if row is None or row[0] is None:
        raise NotFoundError("no such person; run `empatia run` if they are new")
    first_seen, orders, as_of = row
    as_of = as_of or datetime.now(UTC)
    tenure = (as_of - first_seen).days
    if tenure >= policy.loyal_after_days and orders >= policy.loyal_orders:
        return "loyal", as_of
    if tenure >= policy.active_after_days and orders >= 1:
        return "active", as_of
    return "new", as_of


def _known_traits(store: Store, person_id: str) -> set[str]:
    known: set[str] = set()
    cur = store.cursor()
    try:
        if store.table_exists("profile_traits"):
            known |= {r[0] for r in cur.execute(
                "select trait from profile_traits where person_id = ? and value is not null",
                [person_id]).fetchall()}  # fmt: skip
        if store.table_exists("profiles"):
            rel = cur.execute("select * from profiles where person_id = ?", [person_id])
            names = [d[0] for d in rel.description]
            row = rel.fetchone()
            if row:
                known |= {n for n, v in zip(names, row, strict=True) if v is not None}
    finally:
        cur.close()
    return known


def next_question(
    store: Store,
    person_id: str,
    *,
    bank: list[Question] | None = None,
    policy: Policy | None = None,
) -> Decision:
    """At most one question for ``person_id`` now, or none, with the reasons."""
    bank = load_bank() if bank is None else bank
    policy = policy or Policy()
    ok, why = consent.allowed(store, person_id, "question")  # fails closed
    if not ok:
        return Decision(None, reasons=[why])
    stage, now = relationship(store, person_id, policy)
    d = Decision(None, stage)
    last = _one(store, "select max(asked_at) from profiling_asks where person_id = ?", [person_id])
    recent = now - timedelta(days=policy.cooldown_days)
    if policy.cooldown_days > 0 and last and last[0] is not None and last[0] > recent:
        d.reasons.append(f"asked within the last {policy.cooldown_days} days")
        return d
    if store.table_exists("text_analysis") and store.table_exists("event_persons"):
        bad = _one(
            store,
            "select count(*) from text_analysis t join event_persons p using (seq)"
            " where p.person_id = ? and t.sentiment = 'negative' and t.timestamp >= ?",
            [person_id, now - timedelta(days=policy.calm_days)],
        )
        if bad and bad[0]:
            d.reasons.append(f"a negative experience in the last {policy.calm_days} days")
            return d
    done = {
        r[0]
        for r in store.con.execute(
            "select question_id from profiling_answers where person_id = ?", [person_id]
        ).fetchall()
    }
    known = _known_traits(store, person_id)
    rank = STAGES.index(stage)
    for q in bank:
        if STAGES.index(q.stage) > rank or q.id in done or q.trait in known:
            continue
        d.question = q
        return d
    d.reasons.append("nothing left to ask at this stage")
    return d


def record_ask(store: Store, person_id: str, question_id: str, at: datetime | None = None) -> None:
    store.con.execute(
        "insert into profiling_asks (person_id, question_id, asked_at) values (?, ?, ?)",
        [person_id, question_id, at or datetime.now(UTC)],
    )


def record_answer(
    store: Store,
    person_id: str,
    question_id: str,
    value: str | None = None,
    *,
    declined: bool = False,
    bank: list[Question] | None = None,
) -> None:
    """Store an answer (a trait, with consent for the question's purpose) or a refusal."""
    bank = load_bank() if bank is None else bank
    q = next((x for x in bank if x.id == question_id), None)
    if q is None:
        raise NotFoundError(
            f"no question {question_id!r}; the bank has {', '.join(x.id for x in bank)}"
        )
    if not declined and (value is None or not str(value).strip()):
        raise ValidationError("an answer needs a value (or declined=true)")
    if not declined and q.answers and value not in q.answers:
        raise ValidationError(f"answer one of {', '.join(q.answers)}", answers=list(q.answers))
    store.con.execute(
        "insert into profiling_answers (person_id, question_id, trait, value, declined)"
        " values (?, ?, ?, ?, ?)",
        [person_id, q.id, q.trait, None if declined else str(value), declined],
    )
    if not declined:
        consent.record(store, person_id, q.purpose, True, source=f"profiling:{q.id}")


def answered_traits(store: Store, person_id: str) -> dict[str, str]:
    """Traits the person gave by answering (latest answer per trait)."""
    rows = store.con.execute(
        "select trait, arg_max(value, answered_at) from profiling_answers"
        " where person_id = ? and not declined group by trait",
        [person_id],
    ).fetchall()
    return {t: v for t, v in rows}
