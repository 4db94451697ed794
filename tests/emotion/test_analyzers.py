"""What a user notices: angry complaints come out negative and angry, thanks come out grateful."""

from __future__ import annotations

import pytest

from empatia.emotion.analyzers.base import EMOTIONS
from empatia.emotion.exceptions import UnknownAnalyzerError
from empatia.emotion.registry import ANALYZERS, get_analyzer

ANGRY_PL = "Dzwoniłem siedem razy i nikt nie odbiera! To skandal, jestem wściekły."
THANKS_EN = "Thank you so much, the delivery was super fast and the staff were lovely!"


def top(emotions: dict[str, float], k: int = 2) -> set[str]:
    return set(sorted(emotions, key=emotions.__getitem__, reverse=True)[:k])


@pytest.mark.parametrize("name", ["encoder", "fast"])
def test_angry_polish_complaint(name):
    a = get_analyzer(name).analyze([ANGRY_PL])[0]
    assert a.language == "pl"
    assert a.sentiment == "negative" and a.score < -0.2
    assert top(a.emotions) & {"anger", "frustration"}
    calls = [c for c in a.effort if c.cue == "repeated_contact"]
    assert calls and calls[0].n == 7
    assert "no_answer" in {c.cue for c in a.effort}


@pytest.mark.parametrize("name", ["encoder", "fast"])
def test_grateful_english_review(name):
    a = get_analyzer(name).analyze([THANKS_EN])[0]
    assert a.sentiment == "positive" and a.score > 0.3
    assert "gratitude" in top(a.emotions)
    assert not a.effort and not a.escalation


def test_languages_and_sentences(encoder):
    texts = [
        "Я очень разочарован качеством, товар сломался через неделю.",
        "از خرید خیلی راضی هستم، ممنون!",
        "Ich bin total genervt. Ich warte seit drei Wochen auf mein Geld. Ich gehe zur Presse.",
    ]
    ru, fa, de = encoder.analyze(texts)
    assert (ru.language, fa.language, de.language) == ("ru", "fa", "de")
    assert ru.sentiment == "negative" and ru.emotions["disappointment"] >= 0.5
    assert fa.sentiment == "positive"
    assert len(de.sentences) == 3
    assert {c.cue for c in de.escalation} == {"public"}
    assert de.sentences[1].effort[0].n == 3 and de.sentences[1].effort[0].unit == "week"


def test_result_shape(fast):
    a = fast.analyze(["ok"])[0]
    d = a.as_dict()
    assert set(d["emotions"]) == set(EMOTIONS)
    assert -1 <= d["score"] <= 1 and 0 <= d["confidence"] <= 1
    assert all(0 <= v <= 1 for v in d["emotions"].values())


def test_registry():
    assert {"encoder", "fast", "transformers"} <= set(ANALYZERS)
    with pytest.raises(UnknownAnalyzerError, match="choose one of: encoder, fast, transformers"):
        get_analyzer("nope")


def test_persian_in_arabic_letters_reads_as_persian(fast):
    """ي/ك/ZWNJ variants of one Persian complaint get one reading; Arabic keeps its letters."""
    persian = "من واقعاً عصبانی هستم. این یک افتضاح است و دیگر از شما خرید نمی‌کنم."
    arabic_letters = persian.replace("ی", "ي").replace("ک", "ك")
    a, b = fast.analyze([persian, arabic_letters], hints=["fa", "fa"], sentences=False)
    assert a.language == b.language == "fa"
    assert (a.score, a.sentiment, a.emotions) == (b.score, b.sentiment, b.emotions)
    from empatia.emotion.analyzers.base import model_text

    assert model_text("كيف حالك", "ar") == "كيف حالك"
