"""Numbers as customers write them, in digits or words, in en/pl/ru/fa/de/es/fr.

``"seven calls"``, ``"siedem razy"``, ``"семь раз"``, ``"هفت بار"``, ``"zweimal"`` … The cue
finder (:mod:`empatia.emotion.cues`) builds its patterns from :data:`NUMBER_WORDS` and reads
values with :func:`parse_number`.

>>> parse_number("seven"), parse_number("siedmiu"), parse_number("۱۲"), parse_number("zwei")
(7, 7, 12, 2)
>>> parse_number("third"), parse_number("lots")
(3, None)
"""

from __future__ import annotations

import re

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def _forms(table: dict[int, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value, words in table.items():
        for w in words.split():
            out[w] = value
    return out


#: Cardinal number words, with common inflected forms, per language.
NUMBER_WORDS: dict[str, dict[str, int]] = {
    "en": _forms(
        {
            1: "one a an",
            2: "two couple",
            3: "three",
            4: "four",
            5: "five",
            6: "six",
            7: "seven",
            8: "eight",
            9: "nine",
            10: "ten",
            11: "eleven",
            12: "twelve",
            13: "thirteen",
            14: "fourteen",
            15: "fifteen",
            20: "twenty",
            24: "twenty-four",
            30: "thirty",
            40: "forty",
            45: "forty-five",
            48: "forty-eight",
            50: "fifty",
            100: "hundred",
        }
    ),
    "pl": _forms(
        {
            1: "jeden jedną jedna jednej",
            2: "dwa dwie dwóch dwukrotnie",
            3: "trzy trzech trzykrotnie",
            4: "cztery czterech",
            5: "pięć pięciu pięciokrotnie",
            6: "sześć sześciu",
            7: "siedem siedmiu siedmiokrotnie",
            8: "osiem ośmiu",
            9: "dziewięć dziewięciu",
            10: "dziesięć dziesięciu dziesięciokrotnie",
            11: "jedenaście",
            12: "dwanaście",
            15: "piętnaście",
            20: "dwadzieścia dwudziestu",
            30: "trzydzieści",
            40: "czterdzieści",
            50: "pięćdziesiąt",
            100: "sto",
        }
    ),
    "ru": _forms(
        {
            1: "один одна одну одного",
            2: "два две двух",
            3: "три трёх трех",
            4: "четыре четырёх",
            5: "пять пяти",
            6: "шесть шести",
            7: "семь семи",
            8: "восемь восьми",
            9: "девять девяти",
            10: "десять десяти",
            11: "одиннадцать",
            12: "двенадцать",
            15: "пятнадцать",
            20: "двадцать",
            30: "тридцать",
            40: "сорок",
            50: "пятьдесят",
            100: "сто",
        }
    ),
    "fa": _forms(
        {
            1: "یک",
            2: "دو",
            3: "سه",
            4: "چهار",
            5: "پنج",
            6: "شش",
            7: "هفت",
            8: "هشت",
            9: "نه",
            10: "ده",
            11: "یازده",
            12: "دوازده",
            15: "پانزده",
            20: "بیست",
            30: "سی",
            40: "چهل",
            50: "پنجاه",
            100: "صد",
        }
    ),
    "de": _forms(
        {
            1: "ein eine einen einer einem eins",
            2: "zwei",
            3: "drei",
            4: "vier",
            5: "fünf",
            6: "sechs",
            7: "sieben",
            8: "acht",
            9: "neun",
            10: "zehn",
            11: "elf",
            12: "zwölf",
            15: "fünfzehn",
            20: "zwanzig",
            30: "dreißig",
            40: "vierzig",
            50: "fünfzig",
            100: "hundert",
        }
    ),
    "es": _forms(
        {
            1: "un una uno",
            2: "dos",
            3: "tres",
            4: "cuatro",
            5: "cinco",
            6: "seis",
            7: "siete",
            8: "ocho",
            9: "nueve",
            10: "diez",
            11: "once",
            12: "doce",
            15: "quince",
            20: "veinte",
            30: "treinta",
            40: "cuarenta",
            50: "cincuenta",
            100: "cien",
        }
    ),
    "fr": _forms(
        {
            1: "un une",
            2: "deux",
            3: "trois",
            4: "quatre",
            5: "cinq",
            6: "six",
            7: "sept",
            8: "huit",
            9: "neuf",
            10: "dix",
            11: "onze",
            12: "douze",
            15: "quinze",
            20: "vingt",
            30: "trente",
            40: "quarante",
            50: "cinquante",
            100: "cent",
        }
    ),
}

#: Ordinals as in "for the third time" / "po raz trzeci" / "в третий раз".
ORDINAL_WORDS: dict[str, dict[str, int]] = {
    "en": _forms(
        {
            2: "second 2nd",
            3: "third 3rd",
            4: "fourth 4th",
            5: "fifth 5th",
            6: "sixth 6th",
            7: "seventh 7th",
            8: "eighth 8th",
            9: "ninth 9th",
            10: "tenth 10th",
        }
    ),
    "pl": _forms(
        {
            2: "drugi",
            3: "trzeci",
            4: "czwarty",
            5: "piąty",
            6: "szósty",
            7: "siódmy",
            8: "ósmy",
            9: "dziewiąty",
            10: "dziesiąty",
        }
    ),
    "ru": _forms(
        {
            2: "второй",
            3: "третий",
            4: "четвертый четвёртый",
            5: "пятый",
            6: "шестой",
            7: "седьмой",
            8: "восьмой",
            9: "девятый",
            10: "десятый",
        }
    ),
    "fa": _forms(
        {
            2: "دومین دوم",
            3: "سومین سوم",
            4: "چهارمین چهارم",
            5: "پنجمین پنجم",
            6: "ششمین ششم",
            7: "هفتمین هفتم",
            8: "هشتمین هشتم",
            10: "دهمین دهم",
        }
    ),
    "de": _forms(
        {
            2: "zweiten",
            3: "dritten",
            4: "vierten",
            5: "fünften",
            6: "sechsten",
            7: "siebten siebenten",
            8: "achten",
            9: "neunten",
            10: "zehnten",
        }
    ),
    "es": _forms(
        {
            2: "segunda segundo",
            3: "tercera tercer tercero",
            4: "cuarta cuarto",
            5: "quinta quinto",
            6: "sexta sexto",
            7: "séptima séptimo",
            8: "octava octavo",
            10: "décima décimo",
        }
    ),
    "fr": _forms(
        {
            2: "deuxième seconde",
            3: "troisième",
            4: "quatrième",
            5: "cinquième",
            6: "sixième",
            7: "septième",
            8: "huitième",
            9: "neuvième",
            10: "dixième",
        }
    ),
}

_ALL_WORDS: dict[str, int] = {}
for _table in (*NUMBER_WORDS.values(), *ORDINAL_WORDS.values()):
    for _w, _v in _table.items():
        _ALL_WORDS.setdefault(_w, _v)
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(?:st|nd|rd|th|\.)$")


def to_ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits to ASCII: ``"۷"`` → ``"7"``."""
    return text.translate(_DIGITS)


def parse_number(token: str) -> int | None:
    """The value of one number token (digits, a number word or an ordinal), else ``None``."""
    t = to_ascii_digits(token.strip().lower())
    if t.isdigit():
        return int(t) if len(t) <= 6 else None
    m = _ORDINAL_SUFFIX.match(t)
    if m:
        return int(m.group(1))
    return _ALL_WORDS.get(t)


def number_pattern(lang: str | None = None, ordinals: bool = False) -> str:
    """A regex alternation (no groups) matching a number in ``lang`` (all languages if None)."""
    tables = ORDINAL_WORDS if ordinals else NUMBER_WORDS
    langs = [lang] if lang in tables else list(tables)
    words = sorted({w for lg in langs for w in tables[lg]}, key=len, reverse=True)
    digits = r"\d{1,6}(?:st|nd|rd|th|\.)?" if ordinals else r"\d{1,6}"
    return "(?:" + digits + "|" + "|".join(re.escape(w) for w in words) + ")"
