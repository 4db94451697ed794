"""PII in free text: e-mail addresses, phone numbers, card numbers and IBANs.

Redaction runs before texts leave the store (on by default for exports) and, optionally,
before analysis. Card numbers must pass the Luhn check and IBANs their mod-97 check, so order
numbers and prices stay readable.

>>> redact("Mail ala.kot@example.com or call +48 601 234 567, card 4111 1111 1111 1111.")
'Mail [email] or call [phone], card [card].'
>>> redact("IBAN DE89 3704 0044 0532 0130 00 please")
'IBAN [iban] please'
>>> redact("order 1234567 costs 99.50")
'order 1234567 costs 99.50'
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}", re.UNICODE)
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
CARD = re.compile(r"(?<![\d-])\d+(?:[ -]\d+)*")
_DATE = re.compile(r"(?<!\d)(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{4})(?!\d)")
_HIDDEN = re.compile("\U000f0000([\U000f0001-\U000fff00])")
# A phone: optional +, then 9–15 digits in groups separated by spaces, dots, dashes, brackets.
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{7,18}\d(?!\w)")
INTL_PHONE = re.compile(r"(?<![\w+])(?:\+|00)[1-9][\d ().-]{7,18}\d(?!\w)")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number (digits only).

    >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces allowed).

    >>> iban_ok("GB82 WEST 1234 5698 7654 32"), iban_ok("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    s = text.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    moved = s[4:] + s[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in moved))
    except ValueError:
        return False
    return number % 97 == 1


def _card(m: re.Match[str]) -> str:
    text = m.group(0)
    # The run may have swallowed neighbouring numbers ("12 4111 … 1111"): try the longest
    # windows of digit groups first. Card numbers never start with 0 (phones do: 0048 …).
    runs = [(r.start(), r.end()) for r in re.finditer(r"\d+", text)]
    n = len(runs)
    for size in range(n, 0, -1):
        for i in range(n - size + 1):
            a, b = runs[i][0], runs[i + size - 1][1]
            sizes = tuple(len(r) for r in re.findall(r"\d+", text[a:b]))
            digits = re.sub(r"\D", "", text[a:b])
            if 13 <= len(digits) <= 19 and digits[0] != "0" and _card_groups(sizes) and luhn_ok(digits):
                return text[:a] + "[card]" + text[b:]
    return text


def _card_groups(sizes: tuple[int, ...]) -> bool:
    """How card numbers are written: one run, fours (the last may be shorter), or 4-6-5."""
    return (
        len(sizes) == 1
        or sizes in ((4, 6, 5), (4, 6, 4))
        or (all(x == 4 for x in sizes[:-1]) and 1 <= sizes[-1] <= 4)
    )


def _iban(m: re.Match[str]) -> str:
    return "[iban]" if iban_ok(m.group(0)) else m.group(0)


def _is_phone(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if not 9 <= len(digits) <= 15:
        return False
    if text.startswith(("+", "00", "(")):
        return True
    # Without a country prefix, only what is written like a phone number: a few groups, one
    # of three digits or more, no date inside. Plain long numbers are order numbers.
    groups = [g for g in re.split(r"[ ().-]+", text) if g]
    return (
        2 <= len(groups) <= 4
        and any(len(g) >= 3 for g in groups)
        and not _DATE.search(text)
        and len(digits) <= 12
    )


def _phone(m: re.Match[str]) -> str:
    text = m.group(0)
    # The run may have swallowed a following number (a date, a price): try shorter prefixes.
    ends = [r.end() for r in re.finditer(r"\d+", text)]
    for end in reversed(ends):
        if _is_phone(text[:end]):
            return "[phone]" + text[end:]
    return text


def redact(text: str | None) -> str | None:
    """``text`` with e-mails, IBANs, card numbers and phone numbers replaced by a label."""
    if not text:
        return text
    out = EMAIL.sub("[email]", text)
    # Dates are never phones or cards: hide them while numbers are looked at.
    dates: list[str] = []

    def hide(m: re.Match[str]) -> str:
        dates.append(m.group(0))
        return "\U000f0000" + chr(0xF0000 + len(dates))

    out = _DATE.sub(hide, out)
    out = IBAN.sub(_iban, out)
    out = INTL_PHONE.sub(_phone, out)
    out = CARD.sub(_card, out)
    out = PHONE.sub(_phone, out)
    return _HIDDEN.sub(lambda m: dates[ord(m.group(1)) - 0xF0001], out) if dates else out
