"""The transformers analyzer loads a local folder; the test builds a tiny random model itself."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from empatia.emotion.analyzers.base import EMOTIONS, SENTIMENTS  # noqa: E402
from empatia.emotion.exceptions import ModelNotFoundError  # noqa: E402
from empatia.emotion.registry import get_analyzer  # noqa: E402


def tiny_model(folder, labels: list[str], multi_label: bool = False) -> str:
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *"abcdefghijklmnopqrstuvwxyz",
        "the",
        "bad",
    ]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    tok = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    cfg = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={lab: i for i, lab in enumerate(labels)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
    )
    model = transformers.BertForSequenceClassification(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def test_local_sentiment_model(tmp_path):
    a = get_analyzer(
        "transformers", model_dir=tiny_model(tmp_path, ["negative", "neutral", "positive"])
    )
    res = a.analyze(["the delivery was bad", "Nikt nie odbiera, dzwoniłem 3 razy"])
    assert all(r.sentiment in SENTIMENTS and -1 <= r.score <= 1 for r in res)
    assert res[1].language == "pl"
    assert res[1].effort[0].n == 3  # cues work whatever the model
    assert a.key.startswith("transformers:")


def test_local_multilabel_emotion_model(tmp_path):
    path = tiny_model(tmp_path, ["anger", "annoyance", "joy", "gratitude"], multi_label=True)
    res = get_analyzer("transformers", model_dir=path).analyze(["the the the"])[0]
    assert set(res.emotions) == set(EMOTIONS)
    assert res.emotions["frustration"] > 0  # annoyance → frustration
    assert res.emotions["trust"] == 0  # the model has no such label


def test_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model-dir"):
        get_analyzer("transformers", model_dir=str(tmp_path / "nothing"))
