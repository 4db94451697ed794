"""Themes by multilingual anchors and discovery; language detection on short texts."""

from __future__ import annotations

import numpy as np
import pytest

from empatia.emotion.langid import LanguageDetector, locale_hint
from empatia.emotion.themes import DEFAULT_ANCHORS, ThemeMatcher, discover_themes


@pytest.fixture(scope="module")
def matcher(encoder):
    return ThemeMatcher(encoder.embed, DEFAULT_ANCHORS)


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("My parcel still has not arrived, the courier lost it.", "delivery"),
        ("Przesyłka nie dotarła, kurier zgubił paczkę.", "delivery"),
        ("Верните деньги, возврат так и не пришёл.", "refund"),
        ("Die App stürzt ständig ab.", "app_website"),
        ("C'est beaucoup trop cher pour ce que c'est.", "price"),
    ],
)
def test_anchor_themes_across_languages(matcher, text, theme):
    assert theme in matcher.assign([text])[0]


def test_unrelated_text_gets_no_theme(matcher):
    assert matcher.assign(["The weather in Lisbon is nice in spring."])[0] == []


def test_discovery_groups_similar_texts_with_quotes():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 16))
    X = np.vstack(
        [centres[0] + 0.01 * rng.normal(size=(5, 16)), centres[1] + 0.01 * rng.normal(size=(3, 16))]
    )
    texts = ["parking lot full"] * 5 + ["music too loud"] * 3
    found = discover_themes(texts, X, k=2)
    assert [t.size for t in found] == [5, 3]
    assert "parking" in found[0].terms
    assert all(texts[i] == "parking lot full" for i in found[0].quotes)


def test_language_detection_restricted_and_hinted():
    det = LanguageDetector(("en", "pl", "ru", "fa", "de", "es", "fr"))
    samples = {
        "en": "Where is my order?",
        "pl": "Gdzie jest moje zamówienie?",
        "ru": "Где мой заказ?",
        "fa": "سفارش من کجاست؟",
        "de": "Wo ist meine Bestellung?",
        "es": "¿Dónde está mi pedido?",
        "fr": "Où est ma commande ?",
    }
    got = det.detect_many(list(samples.values()))
    assert [d.lang for d in got] == list(samples)
    assert locale_hint("pl_PL") == "pl"
    assert LanguageDetector(("en",)).detect("whatever").lang == "en"


def test_a_theme_without_an_anchor_is_left_for_discovery(matcher):
    assert matcher.assign(["Nie ma gdzie zaparkować pod sklepem."])[0] == []
