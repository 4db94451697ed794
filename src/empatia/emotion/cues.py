"""Effort and escalation cues, with the numbers customers state, in seven languages.

>>> [c.as_dict() for c in find_cues("I called seven times and waited two hours on hold!", "en")]
[{'category': 'effort', 'cue': 'waiting', 'n': 2, 'unit': 'hour'}, {'category': 'effort', 'cue': 'repeated_contact', 'n': 7, 'unit': 'contact'}]
>>> [c.cue for c in find_cues("Opiszę to w mediach i pozwę was do sądu.", "pl")]
['public', 'legal']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from empatia.emotion.lexicon import (
    EFFORT_KINDS,
    ESCALATION_KINDS,
    LEXICON,
    LEXICON_EMOTIONS,
    RULES,
)
from empatia.emotion.numbers import number_pattern, parse_number, to_ascii_digits

_NORMAL = str.maketrans({"\u200c": " ", "ي": "ی", "ك": "ک", "’": "'", "ё": "ё"})
_SENTENCE = re.compile(r"(?<=[.!?؟…。])\s+|\n+")
_B, _E = r"(?<!\w)", r"(?!\w)"
_TIMES_WORD_VALUES = {
    "twice": 2,
    "thrice": 3,
    "dwukrotnie": 2,
    "trzykrotnie": 3,
    "pięciokrotnie": 5,
    "siedmiokrotnie": 7,
    "dziesięciokrotnie": 10,
    "дважды": 2,
    "трижды": 3,
    "четырежды": 4,
}


def normalise(text: str) -> str:
    """Lower case, Persian letters and digits unified; same length as the input."""
    out = to_ascii_digits(text.translate(_NORMAL)).lower()
    return out if len(out) == len(text) else to_ascii_digits(text.translate(_NORMAL))


def split_sentences(text: str) -> list[str]:
    """Sentences of a text (a simple punctuation split that works for all seven languages)."""
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


@dataclass(frozen=True)
class Cue:
    category: str  # effort | escalation
    cue: str  # waiting | repeated_contact | transfer | no_answer | bounced | leave | public | legal
    n: int | None = None  # the number stated, if any ("seven calls" → 7)
    unit: str | None = None  # contact | minute | hour | day | week | month

    def as_dict(self) -> dict[str, object]:
        return {"category": self.category, "cue": self.cue, "n": self.n, "unit": self.unit}


@dataclass(frozen=True)
class _Compiled:
    contact: re.Pattern[str]
    duration: re.Pattern[str]
    lead_duration: re.Pattern[str]
    ordinal: re.Pattern[str]
    ordinal_num: re.Pattern[str]
    times_word: re.Pattern[str]
    times_suffix: re.Pattern[str] | None
    kinds: dict[str, re.Pattern[str]]
    anything: re.Pattern[str]  # one pass that rules out sentences without any cue


@lru_cache(maxsize=16)
def _compiled(lang: str) -> _Compiled:
    lex = LEXICON[lang]
    num = number_pattern(lang)
    units = lex["time_unit"]
    assert isinstance(units, dict)
    unit_alt = "|".join(f"(?P<{u}>{p})" for u, p in units.items())
    gap = r"\s+(?:\w+\s+)?"
    contact = re.compile(f"{_B}(?P<num>{num}){gap}(?:{lex['contact_unit']}){_E}")
    duration = re.compile(f"{_B}(?P<num>{num}){gap}(?:{unit_alt}){_E}")
    lead_duration = re.compile(
        f"{_B}(?:{lex['duration_lead']})\\s+(?P<num>{num}){gap}(?:{unit_alt}){_E}"
    )
    ordinal = re.compile(
        _B + str(lex["ordinal_contact"]).replace("{O}", number_pattern(lang, True)) + _E
    )
    ordinal_num = re.compile(f"{_B}{number_pattern(lang, True)}{_E}")
    times_word = re.compile(f"{_B}(?:{lex['times_word']}){_E}")
    suffix = lex.get("times_suffix")
    times_suffix = re.compile(f"{_B}(?P<num>{num}){suffix}{_E}") if suffix else None
    kinds = {
        k: re.compile(f"{_B}(?:{lex[k]}){_E}")
        for k in (*EFFORT_KINDS, *ESCALATION_KINDS, *LEXICON_EMOTIONS)
    }
    pieces = [str(lex[k]) for k in (*EFFORT_KINDS, *ESCALATION_KINDS)]
    pieces += [
        f"{num}{gap}(?:{lex['contact_unit']}|{'|'.join(units.values())})",
        str(lex["ordinal_contact"]).replace("{O}", number_pattern(lang, True)),
        str(lex["times_word"]),
    ]
    if suffix:
        pieces.append(f"{num}{suffix}")
    anything = re.compile(f"{_B}(?:" + "|".join(f"(?:{p})" for p in pieces) + f"){_E}")
    return _Compiled(
        contact,
        duration,
        lead_duration,
        ordinal,
        ordinal_num,
        times_word,
        times_suffix,
        kinds,
        anything,
    )


def _langs(lang: str | None) -> list[str]:
    return [lang] if lang in LEXICON else list(LEXICON)


def _duration_unit(m: re.Match[str]) -> str:
    return next(u for u, v in m.groupdict().items() if v is not None and u != "num")


def _sentence_cues(s: str, lang: str) -> list[Cue]:
    c = _compiled(lang)
    found: list[Cue] = []
    if not c.anything.search(s):
        return found
    # waiting, with the longest stated duration
    waiting_kw = bool(c.kinds["waiting"].search(s))
    durations = [
        (parse_number(m.group("num")), _duration_unit(m))
        for m in (c.duration.finditer(s) if waiting_kw else c.lead_duration.finditer(s))
    ]
    durations = [(n, u) for n, u in durations if n]
    if waiting_kw or durations:
        n, unit = (
            max(durations, key=lambda d: cast(int, d[0]) * _UNIT_MINUTES[d[1]])
            if durations
            else (None, None)
        )
        found.append(Cue("effort", "waiting", n, unit))
    # repeated contacts, with the count
    counts = [parse_number(m.group("num")) for m in c.contact.finditer(s)]
    for m in c.ordinal.finditer(s):
        counts += [parse_number(o.group(0)) for o in c.ordinal_num.finditer(m.group(0))]
    if c.times_suffix:
        counts += [parse_number(m.group("num")) for m in c.times_suffix.finditer(s)]
    counts += [_TIMES_WORD_VALUES.get(m.group(0)) for m in c.times_word.finditer(s)]
    counts = [n for n in counts if n and n >= 2]
    if counts or c.kinds["repeated_contact"].search(s):
        found.append(
            Cue(
                "effort",
                "repeated_contact",
                max(cast("list[int]", counts)) if counts else None,
                "contact" if counts else None,
            )
        )
    for kind in EFFORT_KINDS[2:]:
        if c.kinds[kind].search(s):
            found.append(Cue("effort", kind))
    for kind in ESCALATION_KINDS:
        if c.kinds[kind].search(s):
            found.append(Cue("escalation", kind))
    return found


_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440, "week": 10080, "month": 43200}


def find_cues(text: str, lang: str | None = None) -> list[Cue]:
    """Effort and escalation cues in ``text``; one per kind, with the largest number stated.

    ``lang`` picks the lexicon; unknown or ``None`` tries every language. Negated negatives
    ("no waiting at all") and frequencies ("3 times a week") are not cues.
    """
    norm = normalise(text)
    best: dict[str, Cue] = {}
    for lg in _langs(lang):
        for s in split_sentences(_mask_not_cues(norm, lg)):
            for cue in _sentence_cues(s, lg):
                old = best.get(cue.cue)
                if old is None or _weight(cue) > _weight(old):
                    best[cue.cue] = cue
    order = (*EFFORT_KINDS, *ESCALATION_KINDS)
    return sorted(best.values(), key=lambda c: order.index(c.cue))


def _weight(c: Cue) -> float:
    if c.n is None:
        return 0.0
    return float(c.n * _UNIT_MINUTES.get(c.unit or "", 1))


def lexicon_emotions(text: str, lang: str | None = None) -> dict[str, int]:
    """How many cue words for each of :data:`LEXICON_EMOTIONS` the text has."""
    norm = normalise(text)
    out = dict.fromkeys(LEXICON_EMOTIONS, 0)
    for lg in _langs(lang):
        c = _compiled(lg)
        masked = _mask_not_cues(norm, lg)
        for emo in LEXICON_EMOTIONS:
            out[emo] = max(out[emo], len(c.kinds[emo].findall(masked)))
    return out


# -- sentence rules: contrast clauses, negated negatives, verdicts ----------------------------
@dataclass(frozen=True)
class _Rules:
    contrast: re.Pattern[str]
    concessive: re.Pattern[str]
    negated: re.Pattern[str]
    verdict_neg: re.Pattern[str]
    verdict_pos: re.Pattern[str]
    frequency: re.Pattern[str]


@lru_cache(maxsize=16)
def _rules(lang: str) -> _Rules | None:
    r = RULES.get(lang)
    if r is None:
        return None
    return _Rules(
        contrast=re.compile(f"{_B}(?:{r['contrast']}){_E}"),
        concessive=re.compile(rf"^\W*(?:{r['concessive']}){_E}"),
        negated=re.compile(f"{_B}(?:{r['negated']}){_E}"),
        verdict_neg=re.compile(f"{_B}(?:{r['verdict_neg']}){_E}"),
        verdict_pos=re.compile(f"{_B}(?:{r['verdict_pos']}){_E}"),
        frequency=re.compile(f"(?:{r['frequency']}){_E}"),
    )


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def _mask_not_cues(norm: str, lang: str) -> str:
    r = _rules(lang)
    return _blank(_blank(norm, r.frequency), r.negated) if r else norm


def negated_negatives(text: str, lang: str | None) -> list[str]:
    """Negated negatives in ``text`` ("not slow at all", "kein Problem", "اصلا کند نیست")."""
    r = _rules(lang) if lang else None
    return [m.group(0) for m in r.negated.finditer(normalise(text))] if r else []


def verdict(text: str, lang: str | None) -> int:
    """-1 for advice against ("zdecydowanie odradzam"), +1 for a recommendation, else 0.

    With both, the one said last counts ("the food, I recommend; the hotel, I do not recommend").
    """
    r = _rules(lang) if lang else None
    if r is None:
        return 0
    norm = normalise(text)
    neg = [m.start() for m in r.verdict_neg.finditer(norm)]
    pos = [m.start() for m in r.verdict_pos.finditer(_blank(norm, r.verdict_neg))]
    if not neg and not pos:
        return 0
    return -1 if max(neg, default=-1) > max(pos, default=-1) else 1


def contrast_clause(text: str, lang: str | None, min_words: int = 2) -> str | None:
    """The clause that sets the verdict of a contrast, if ``text`` has one.

    After the last contrast marker ("good, **but** slow" → "slow"), or after the first comma of
    a sentence opened by a concessive marker ("**Although** it was late, the food was great").
    """
    r = _rules(lang) if lang else None
    if r is None:
        return None
    norm = normalise(text)
    if len(norm) != len(text):
        return None
    clause = None
    last = None
    m: re.Match[str] | None
    for m in r.contrast.finditer(norm):
        if re.search(r"\w", norm[: m.start()]):
            last = m
    if last is not None:
        clause = text[last.end() :]
    else:
        m = r.concessive.match(norm)
        if m:
            comma = min(
                (i for i in (norm.find(",", m.end()), norm.find("،", m.end())) if i >= 0),
                default=-1,
            )
            if comma >= 0:
                clause = text[comma + 1 :]
    if clause is None:
        return None
    clause = clause.strip(" \t\n,;:-–—،")
    return clause if len(re.findall(r"\w+", clause)) >= min_words else None
