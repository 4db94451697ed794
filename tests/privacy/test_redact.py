"""PII redaction: generated e-mails, phones, cards and IBANs never survive; prose does."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from empatia.privacy.redact import iban_ok, luhn_ok, redact

words = st.lists(st.sampled_from(["the", "parcel", "arrived", "late", "thanks", "order", "nr",
                                  "zamówienie", "посылка", "خیلی", "bitte", "12", "2026-05-01"]),
                 min_size=0, max_size=8).map(" ".join)  # fmt: skip
local = st.from_regex(r"[a-z][a-z0-9._+-]{0,14}[a-z0-9]", fullmatch=True)
domain = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]\.(com|pl|de|io|co\.uk)", fullmatch=True)


def luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError


cards = st.from_regex(r"[3-6][0-9]{14}", fullmatch=True).map(luhn_complete)
phones = st.tuples(st.sampled_from(["+48", "+49", "+44", "+7", "+98", "0048"]),
                   st.from_regex(r"[1-9][0-9]{2}", fullmatch=True),
                   st.from_regex(r"[0-9]{3}", fullmatch=True),
                   st.from_regex(r"[0-9]{3}", fullmatch=True),
                   st.sampled_from([" ", "-", "."]))  # fmt: skip


def iban_from(country: str, bban: str) -> str:
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{country}{check:02d}{bban}"


ibans = st.tuples(st.sampled_from(["DE", "PL", "GB", "FR"]),
                  st.from_regex(r"[0-9]{18,24}", fullmatch=True)).map(lambda t: iban_from(*t))  # fmt: skip


@settings(max_examples=150)
@given(before=words, after=words, user=local, host=domain)
def test_emails_are_redacted(before: str, after: str, user: str, host: str) -> None:
    email = f"{user}@{host}"
    out = redact(f"{before} {email} {after}")
    assert email not in out and "[email]" in out


@settings(max_examples=150)
@given(before=words, after=words, card=cards, spaced=st.booleans())
def test_card_numbers_passing_luhn_are_redacted(before: str, after: str, card: str, spaced: bool) -> None:  # noqa: E501
    shown = " ".join(re.findall(".{1,4}", card)) if spaced else card
    out = redact(f"{before} {shown} {after}")
    assert shown not in out and card not in re.sub(r"\D", "", out)


@settings(max_examples=150)
@given(before=words, after=words, p=phones)
def test_phones_are_redacted(before: str, after: str, p: tuple[str, str, str, str, str]) -> None:
    cc, a, b, c, sep = p
    phone = f"{cc} {a}{sep}{b}{sep}{c}"
    out = redact(f"{before} {phone} {after}")
    assert phone not in out and "[phone]" in out


@settings(max_examples=100)
@given(before=words, iban=ibans, grouped=st.booleans())
def test_ibans_are_redacted(before: str, iban: str, grouped: bool) -> None:
    assert iban_ok(iban)
    shown = " ".join(re.findall(".{1,4}", iban)) if grouped else iban
    out = redact(f"{before} {shown}")
    assert shown not in out and "[iban]" in out


@settings(max_examples=200)
@given(text=words)
def test_prose_dates_and_small_numbers_stay(text: str) -> None:
    assert redact(text) == text


def test_near_misses_stay() -> None:
    assert redact("order 4111111111111112 failed") == "order 4111111111111112 failed"  # bad Luhn
    assert redact("price 1299.99 PLN, order 20260501") == "price 1299.99 PLN, order 20260501"
    assert redact(None) is None and redact("") == ""
