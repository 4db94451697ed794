"""The shipped ``fast`` model: what a user notices in bulk analysis, and what it costs."""

from __future__ import annotations

import time

import pytest

from empatia.emotion.analyzers.fast import FastAnalyzer, default_model_path, words

ANGRY_FA = "من واقعاً عصبانی هستم. این یک افتضاح است، شش بار تماس گرفتم."
PRAISE_FA = [
    "از خرید خیلی راضی هستم، ممنون!",
    "کیفیت عالی بود، واقعاً ممنونم.",
    "ارسال سریع و بسته‌بندی خوب، متشکرم.",
]


def test_the_shipped_model_loads_small_and_speaks_the_encoders_heads(fast, encoder):
    assert default_model_path().stat().st_size <= 15 * 2**20
    assert fast.head_labels() == encoder.head_labels()


THIN = "#15: no sentence-level sentiment supervision in fa/ru yet (the cue rule alone fires)"


@pytest.mark.xfail(strict=True, reason=THIN)
def test_clear_persian_anger_reads_negative_and_angry(fast):
    a = fast.analyze([ANGRY_FA], hints=["fa"], sentences=False)[0]
    assert a.sentiment == "negative" and a.score < -0.2
    top2 = sorted(a.emotions, key=a.emotions.__getitem__, reverse=True)[:2]
    assert {"anger", "frustration"} & set(top2)


def test_plain_persian_praise_reads_positive(fast):
    got = [a.sentiment for a in fast.analyze(PRAISE_FA, hints=["fa"] * 3, sentences=False)]
    assert got == ["positive"] * 3


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("de", "Ich bin wirklich wütend, das ist eine Frechheit!", "negative"),
        ("es", "Muchas gracias, todo llegó perfecto y a tiempo.", "positive"),
        pytest.param(
            "ru",
            "Я в бешенстве, верните деньги!",
            "negative",
            marks=pytest.mark.xfail(strict=True, reason=THIN),
        ),
        ("fr", "Merci beaucoup, service impeccable.", "positive"),
    ],
)
def test_clear_verdicts_in_other_languages(fast, lang, text, expected):
    assert fast.analyze([text], hints=[lang], sentences=False)[0].sentiment == expected


def test_hindi_words_keep_their_vowel_signs():
    assert words("बहुत बढ़िया सेवा!") == ["बहुत", "बढ़िया", "सेवा"]


def test_bulk_model_speed(fast):
    texts = [
        f"Order {i} arrived late and the box was damaged, very disappointed." for i in range(3000)
    ]
    fast.raw(texts[:10])
    t = time.process_time()
    fast.raw(texts)
    assert len(texts) / max(time.process_time() - t, 1e-9) >= 5000  # texts per CPU-second


def test_missing_model_says_what_to_do(tmp_path):
    from empatia.emotion.exceptions import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="train-emotion"):
        FastAnalyzer(model=tmp_path / "nope.npz")


def test_knowing_which_model_analyses_costs_the_driver_nothing():
    """The stage's process (a Spark driver) only needs the analyzer's key; the executors
    load the weights (#17: 70 MB of the driver's memory on the 100k world)."""
    import tracemalloc

    tracemalloc.start()
    try:
        a = FastAnalyzer()
        assert a.key.startswith("fast:") and a.head_labels()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 2 * 2**20, f"{held >> 20} MB held to know the key"
    assert a.analyze(["Thank you, lovely service!"])[0].sentiment == "positive"
