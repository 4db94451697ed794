"""Recommenders and the offline evaluation on a tiny synthetic shop with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from empatia.decide.evaluate import Split, evaluate, metrics_at_k, tune_blend
from empatia.decide.recommenders import (
    RECOMMENDERS, BuyAgain, CategoryAffinity, CoOccurrence, Hybrid, Interactions, Persona,
    Popularity, _rownorm,
)  # fmt: skip


def shop(n: int = 120, seed: int = 3) -> pd.DataFrame:
    """Two tastes: even people buy items a0..a19 (category A), odd people b0..b19 (B), each
    with a favourite bought every week; everybody sometimes buys the bestseller."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n):
        taste = "a" if p % 2 == 0 else "b"
        fav = f"{taste}{p % 20}"
        for week in range(20):
            day = pd.Timestamp("2025-01-01") + pd.Timedelta(days=7 * week + int(rng.integers(0, 2)))
            rows.append((f"p{p}", fav, day, taste.upper()))
            if rng.random() < 0.3:
                rows.append((f"p{p}", f"{taste}{int(rng.integers(0, 20))}", day, taste.upper()))
            if rng.random() < 0.2:
                rows.append((f"p{p}", "best", day, "X"))
    return pd.DataFrame(rows, columns=["person", "item", "ts", "category"])


def test_metrics_by_hand() -> None:
    truth = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0]], dtype=np.float32))
    top = np.array([[0, 1], [0, 1]])
    m = metrics_at_k(top, truth, np.array([0, 1]), k=2)
    assert m["precision"] == 0.5 and m["recall"] == 0.75
    ndcg_row1 = 1 / (1 + 1 / np.log2(3))  # hit at rank 1 of 2 relevant
    ndcg_row2 = (1 / np.log2(3)) / 1.0  # hit at rank 2 of 1 relevant
    assert abs(m["ndcg"] - (ndcg_row1 + ndcg_row2) / 2) < 1e-9


def test_individual_models_beat_popularity_and_persona_on_a_known_world() -> None:
    split = Split.temporal(shop(), "2025-04-01")
    assert len(split.users_all) > 100
    ndcg = {}
    for model in (Popularity(), Persona(k=5), BuyAgain(), Hybrid(
            {"buy_again": 1.0, "cooccurrence": 0.2, "affinity": 0.2, "trending": 0.05, "als": 0.0})):
        ndcg[model.name] = evaluate(model.fit(split.train), split)["all"]["ndcg"]
    assert ndcg["buy_again"] > 1.3 * ndcg["popularity"]
    assert ndcg["hybrid"] >= ndcg["buy_again"] - 1e-9
    assert ndcg["hybrid"] > 1.15 * ndcg["persona"]  # two tastes: personas know them, not the favourites


def test_components_explain_what_they_score() -> None:
    data = Interactions.from_frame(shop(40))
    ba = BuyAgain(tau=60.0, rhythm=0.5).fit(data)
    p0 = int(np.flatnonzero(data.persons == "p0")[0])
    assert data.items[ba.top_k([p0], 1)[0, 0]] == "a0"  # the weekly favourite
    fav = int(np.flatnonzero(data.items == "a0")[0])
    assert 6.0 <= ba.interval[p0, fav] <= 8.0
    co = CoOccurrence().fit(data)
    assert set(data.items[co.top_k([p0], 3, exclude_seen=False)[0]]) <= {f"a{i}" for i in range(20)} | {"best"}
    aff = CategoryAffinity().fit(data).scores(np.array([p0]))[0]
    assert aff[fav] > aff[int(np.flatnonzero(data.items == "b0")[0])]
    assert set(RECOMMENDERS) >= {"popularity", "persona", "buy_again", "cooccurrence", "als",
                                 "hybrid", "affinity"}  # fmt: skip


def test_tune_blend_picks_the_useful_signal() -> None:
    split = Split.temporal(shop(), "2025-04-01")
    users = split.users_all
    blocks = {"buy_again": _rownorm(BuyAgain().fit(split.train).scores(users)),
              "trending": _rownorm(Popularity().fit(split.train).scores(users))}  # fmt: skip
    weights, score = tune_blend(blocks, split.truth_all, users,
                                {"buy_again": [0.0, 1.0], "trending": [0.0, 1.0]})  # fmt: skip
    assert weights["buy_again"] == 1.0 and score > 0.3
