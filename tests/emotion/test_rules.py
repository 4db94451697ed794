"""Sentence rules of issue #15: negated negatives, contrast clauses, verdicts, precise cues."""

from __future__ import annotations

import pytest

from empatia.emotion.cues import contrast_clause, find_cues, lexicon_emotions, verdict


def cue_kinds(text: str, lang: str) -> set[str]:
    return {c.cue for c in find_cues(text, lang)}


# -- negated negatives read not negative -----------------------------------------------------
NEGATED = [
    ("en", "The delivery was not slow at all, no problem."),
    ("en", "I am not disappointed at all, no complaints."),
    ("pl", "Nie czuję się rozczarowana, żadnego problemu z dostawą."),
    ("pl", "Dostawa nie była wolna, bez problemu."),
    ("ru", "Никаких проблем, доставка совсем не медленная."),
    ("ru", "Я не разочарован, жаловаться не на что."),
    ("fa", "هیچ مشکلی نداشتم، ارسال اصلا کند نبود."),
    ("de", "Kein Problem, die Lieferung war gar nicht langsam."),
    ("de", "Ich bin nicht enttäuscht, nichts zu beanstanden."),
    ("es", "No me decepcionó, nada que reprochar."),
    ("fr", "Aucun problème, la livraison n'était pas lente du tout."),
    ("fr", "Je ne suis pas déçu, rien à redire."),
]


@pytest.mark.parametrize(("lang", "text"), NEGATED)
def test_negated_negatives_read_not_negative(fast, lang, text):
    a = fast.analyze([text], hints=[lang], sentences=False)[0]
    assert a.sentiment != "negative", (a.sentiment, a.score)


@pytest.mark.parametrize(
    ("lang", "text", "word"),
    [
        ("en", "Not disappointed at all.", "disappointment"),
        ("pl", "Nie czuję się rozczarowana.", "disappointment"),
        ("de", "Ich bin nicht enttäuscht.", "disappointment"),
        ("fr", "Je ne suis pas déçue.", "disappointment"),
    ],
)
def test_negated_negative_words_are_no_cue_words(lang, text, word):
    assert lexicon_emotions(text, lang)[word] == 0


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "No waiting at all, they answered at once."),
        ("de", "Ohne Wartezeit, sofort dran."),
        ("es", "Sin esperar, me atendieron enseguida."),
    ],
)
def test_negated_waiting_is_no_waiting_cue(lang, text):
    assert "waiting" not in cue_kinds(text, lang)


# -- contrast: the clause after the marker sets the verdict ---------------------------------
@pytest.mark.parametrize(
    ("lang", "text", "clause"),
    [
        ("en", "The staff were lovely, but the food was terrible.", "the food was terrible."),
        ("en", "Although it arrived late, the shoes are great.", "the shoes are great."),
        ("pl", "Cena super, niestety produkt jest zepsuty.", "produkt jest zepsuty."),
        ("ru", "Цена отличная, однако товар сломан.", "товар сломан."),
        ("fa", "قیمت خوب بود ولی محصول خراب است.", "محصول خراب است."),
        ("de", "Der Preis ist super, leider ist das Produkt kaputt.", "ist das Produkt kaputt."),
        ("es", "El precio es genial, pero el producto está roto.", "el producto está roto."),
        ("fr", "Le prix est super, mais le produit est cassé.", "le produit est cassé."),
    ],
)
def test_contrast_clause_is_found(lang, text, clause):
    assert contrast_clause(text, lang) == clause


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "The staff were lovely and friendly, but the food was terrible.", "negative"),
        ("en", "Great price and fast delivery, but it is a terrible, useless product.", "negative"),
        ("ru", "Цена отличная, однако товар ужасный и сломанный.", "negative"),
        (
            "es",
            "El precio es genial, lamentablemente el producto es horrible y está roto.",
            "negative",
        ),
        ("ru", "Упаковка красивая, но товар сломался через день и мне никто не помог.", "negative"),
    ],
)
def test_contrast_follows_the_second_clause(fast, lang, text, expected):
    a = fast.analyze([text], hints=[lang], sentences=False)[0]
    assert a.sentiment == expected, (a.sentiment, a.score)


def test_no_contrast_without_a_marker_or_a_clause():
    assert contrast_clause("But why?", "en") is None
    assert contrast_clause("Everything was fine.", "en") is None
    assert contrast_clause("Not only cheap but also good", "en") is None
    assert contrast_clause("Good, but", "en") is None


# -- verdicts --------------------------------------------------------------------------------
VERDICT_NEG = [
    ("en", "I do not recommend this shop."),
    ("pl", "Zdecydowanie odradzam ten sklep."),
    ("ru", "Не рекомендую этот магазин."),
    ("fa", "این فروشگاه را توصیه نمی‌کنم."),
    ("de", "Diesen Shop kann ich nicht empfehlen."),
    ("es", "No lo recomiendo."),
    ("fr", "Je déconseille ce magasin."),
]
VERDICT_POS = [
    ("en", "I highly recommend this shop."),
    ("pl", "Gorąco polecam ten sklep."),
    ("ru", "Всем рекомендую этот магазин."),
    ("fa", "این فروشگاه را توصیه می‌کنم."),
    ("de", "Diesen Shop kann ich sehr empfehlen."),
    ("es", "Lo recomiendo, la tienda de siempre."),
    ("fr", "Je recommande ce magasin."),
]


@pytest.mark.parametrize(("lang", "text"), VERDICT_NEG)
def test_advice_against_reads_negative(fast, lang, text):
    assert verdict(text, lang) == -1
    a = fast.analyze([text], hints=[lang], sentences=False)[0]
    assert a.sentiment == "negative" and a.score <= -0.4, (a.sentiment, a.score)


@pytest.mark.parametrize(("lang", "text"), VERDICT_POS)
def test_recommendation_reads_positive(fast, lang, text):
    assert verdict(text, lang) == 1
    a = fast.analyze([text], hints=[lang], sentences=False)[0]
    assert a.sentiment == "positive" and a.score >= 0.4, (a.sentiment, a.score)


def test_verdict_said_last_counts_and_enough_is_praise():
    assert verdict("I can't recommend them enough!", "en") == 1
    assert verdict("Nice pizza, I recommend it, but I do not recommend the hotel.", "en") == -1
    assert verdict("Nie polecam.", "pl") == -1


# -- cues that over-fired ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "text", "kind"),
    [
        ("es", "Esperaba más de este hotel.", "waiting"),  # I expected more
        ("es", "Espero que os vaya bien.", "waiting"),  # I hope
        ("fr", "Je m'attendais à mieux.", "waiting"),  # I expected
        ("ru", "Отдыхали в Судаке, всё понравилось.", "legal"),  # a town
        ("ru", "Суд обязал компанию выплатить штраф по иску клиента.", "legal"),  # news
        ("ru", "Судя по отзывам, магазин хороший.", "legal"),  # judging by
        ("pl", "Sądziłam, że będzie lepiej.", "legal"),  # I thought
        ("pl", "Sądzę, że to dobry sklep.", "legal"),  # I think
        ("fr", "Je viens 3 fois par semaine, j'adore.", "repeated_contact"),  # frequency
        ("en", "I go there 3 times a week.", "repeated_contact"),
        ("de", "Ich trainiere 3 mal pro Woche.", "repeated_contact"),
        ("es", "Voy 3 veces por semana.", "repeated_contact"),
        ("pl", "Chodzę tam 3 razy w tygodniu.", "repeated_contact"),
        ("ru", "Хожу туда 3 раза в неделю.", "repeated_contact"),
        ("de", "Die Band kündigt eine neue Tour an.", "leave"),  # announces
        ("de", "Das Gericht war lecker.", "legal"),  # the dish
    ],
)
def test_over_firing_cues_no_longer_fire(lang, text, kind):
    assert kind not in cue_kinds(text, lang)


@pytest.mark.parametrize(
    ("lang", "text", "kind"),
    [
        ("es", "Esperé 2 horas y nadie me atendió.", "waiting"),
        ("es", "Llevo dos horas esperando.", "waiting"),
        ("fr", "J'attends depuis deux semaines.", "waiting"),
        ("ru", "Подам на вас в суд!", "legal"),
        ("ru", "Я обращусь в суд.", "legal"),
        ("ru", "Мой юрист свяжется с вами.", "legal"),
        ("pl", "Pozwę was do sądu.", "legal"),
        ("pl", "Sprawa trafi na drogę sądową.", "legal"),
        ("fr", "J'ai appelé 3 fois cette semaine.", "repeated_contact"),
        ("de", "Ich gehe vor Gericht.", "legal"),
        ("de", "Ich kündige meinen Vertrag.", "leave"),
    ],
)
def test_precise_cues_still_fire(lang, text, kind):
    assert kind in cue_kinds(text, lang)


def test_rules_off_is_the_model_alone(fast):
    text = "Zdecydowanie odradzam, nie polecam."
    on = fast.analyze([text], hints=["pl"], sentences=False)[0]
    fast.rules = False
    try:
        off = fast.analyze([text], hints=["pl"], sentences=False)[0]
        p = fast.raw([text])["sentiment"][0]
    finally:
        fast.rules = True
    labels = fast.head_labels()["sentiment"]
    assert off.sentiment == labels[int(p.argmax())]
    assert on.sentiment == "negative"
