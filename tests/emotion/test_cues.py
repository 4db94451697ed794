"""Effort and escalation cues with the numbers customers state, in all seven languages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empatia.emotion.cues import find_cues, lexicon_emotions, split_sentences
from empatia.emotion.numbers import NUMBER_WORDS, parse_number


def cues(text: str, lang: str | None) -> dict[str, tuple[int | None, str | None]]:
    return {c.cue: (c.n, c.unit) for c in find_cues(text, lang)}


@pytest.mark.parametrize(
    ("lang", "text", "calls", "wait"),
    [
        ("en", "I called seven times and waited two hours on hold.", 7, (2, "hour")),
        ("pl", "Dzwoniłem siedem razy i czekałem dwie godziny na linii.", 7, (2, "hour")),
        ("ru", "Я звонил семь раз и жду уже два часа.", 7, (2, "hour")),
        ("fa", "هفت بار تماس گرفتم و دو ساعت منتظر ماندم.", 7, (2, "hour")),
        ("de", "Ich habe siebenmal angerufen und warte seit drei Wochen.", 7, (3, "week")),
        ("es", "He llamado 7 veces y llevo dos horas esperando.", 7, (2, "hour")),
        ("fr", "J'ai appelé sept fois et j'attends depuis deux semaines.", 7, (2, "week")),
    ],
)
def test_repeated_contacts_and_waiting_with_numbers(lang, text, calls, wait):
    found = cues(text, lang)
    assert found["repeated_contact"] == (calls, "contact")
    assert found["waiting"] == wait


@pytest.mark.parametrize(
    ("lang", "text", "kind"),
    [
        ("en", "If this is not fixed I will go to the press.", "public"),
        ("en", "I'm cancelling my subscription and switching to a competitor.", "leave"),
        ("en", "My lawyer will hear about this.", "legal"),
        ("en", "Next time I'll buy from your competitors.", "leave"),
        ("en", "I'm going to one of your competitors.", "leave"),
        ("fa", "دفعه‌ی بعد از رقیبتان خرید می‌کنم.", "leave"),
        ("fa", "دیگر از شما خرید نمی‌کنم.", "leave"),
        ("pl", "Opiszę to w mediach społecznościowych.", "public"),
        ("pl", "Pozwę was do sądu.", "legal"),
        ("ru", "Я напишу журналистам.", "public"),
        ("ru", "Больше никогда у вас ничего не куплю.", "leave"),
        ("fa", "از شما شکایت می‌کنم.", "legal"),
        ("de", "Ich kündige meinen Vertrag.", "leave"),
        ("es", "Voy a ir a la prensa con esto.", "public"),
        ("fr", "Je vais porter plainte.", "legal"),
    ],
)
def test_escalation_cues(lang, text, kind):
    found = find_cues(text, lang)
    assert kind in {c.cue for c in found if c.category == "escalation"}


@pytest.mark.parametrize(
    ("lang", "text", "kind"),
    [
        ("en", "Nobody answers the phone.", "no_answer"),
        ("en", "They transferred me to another team.", "transfer"),
        ("en", "I was passed around from one department to another.", "bounced"),
        ("pl", "Nikt nie odbiera, odsyłają mnie od działu do działu.", "bounced"),
        ("pl", "Nikt nie odbiera telefonu.", "no_answer"),
        ("ru", "Меня переключили на другого оператора.", "transfer"),
        ("fa", "هیچ کس جواب نمی‌دهد.", "no_answer"),
        ("de", "Niemand geht ran.", "no_answer"),
        ("es", "Me pasan de un departamento a otro.", "bounced"),
        ("fr", "Personne ne répond.", "no_answer"),
    ],
)
def test_effort_cues_without_numbers(lang, text, kind):
    assert kind in {c.cue for c in find_cues(text, lang)}


def test_ordinals_and_times_words():
    assert cues("This is the third time I call you.", "en")["repeated_contact"][0] == 3
    assert cues("Dzwonię po raz piąty.", "pl")["repeated_contact"][0] == 5
    assert cues("Звоню в десятый раз.", "ru")["repeated_contact"][0] == 10
    assert cues("They hung up on me twice.", "en").get("repeated_contact", (None,))[0] == 2


def test_calm_text_has_no_cues_and_unknown_language_tries_all():
    assert find_cues("Lovely shoes, fast delivery, thank you!", "en") == []
    assert cues("I called 5 times, nobody answers", None)["repeated_contact"][0] == 5


def test_lexicon_emotions():
    assert lexicon_emotions("Jestem bardzo rozczarowany, mam dość.", "pl")["disappointment"] >= 1
    assert lexicon_emotions("Vielen Dank!", "de")["gratitude"] >= 1


def test_sentences_split():
    assert split_sentences("One. Two! Three?\nFour") == ["One.", "Two!", "Three?", "Four"]


CALL_TEMPLATES = {
    "en": "I called {} times",
    "pl": "Dzwoniłem {} razy",
    "ru": "Я звонил {} раз",
    "fa": "{} بار تماس گرفتم",
    "de": "Ich habe {} Mal angerufen",
    "es": "Llamé {} veces",
    "fr": "J'ai appelé {} fois",
}
WAIT_TEMPLATES = {
    "en": "I waited {} hours",
    "pl": "Czekałem {} godzin",
    "ru": "Я ждал {} часов",
    "fa": "{} ساعت منتظر ماندم",
    "de": "Ich warte seit {} Stunden",
    "es": "Esperé {} horas",
    "fr": "J'ai attendu {} heures",
}
WORDS = [(lang, w, v) for lang, table in NUMBER_WORDS.items() for w, v in table.items() if v >= 2]


@given(st.sampled_from(list(CALL_TEMPLATES)), st.integers(min_value=2, max_value=9999))
def test_any_stated_count_of_contacts_is_extracted(lang, n):
    assert cues(CALL_TEMPLATES[lang].format(n), lang)["repeated_contact"] == (n, "contact")


@given(st.sampled_from(WORDS))
def test_number_words_are_read_in_every_language(item):
    lang, word, value = item
    assert cues(CALL_TEMPLATES[lang].format(word), lang)["repeated_contact"][0] == value
    assert cues(WAIT_TEMPLATES[lang].format(word), lang)["waiting"] == (value, "hour")


@given(st.integers(min_value=0, max_value=999_999))
def test_digits_parse_in_ascii_and_persian(n):
    assert parse_number(str(n)) == n
    persian = str(n).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert parse_number(persian) == n


@settings(max_examples=200)
@given(st.text(max_size=300), st.sampled_from([None, "en", "pl", "ru", "fa", "de", "es", "fr"]))
def test_cue_finder_never_fails_and_numbers_are_positive(text, lang):
    for c in find_cues(text, lang):
        assert c.category in {"effort", "escalation"}
        assert c.n is None or c.n >= 1


@pytest.mark.parametrize(
    "text",
    [
        "Your competitors are cheaper, but I like your shop.",
        "I compared you with competitors before buying.",
    ],
)
def test_mentioning_competitors_is_not_a_threat_to_leave(text):
    assert "leave" not in {c.cue for c in find_cues(text, "en")}
