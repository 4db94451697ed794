"""Recommenders and the offline evaluation on a tiny synthetic shop with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from empatia.decide.evaluate import Split, evaluate, metrics_at_k, tune_blend
from empatia.decide.recommenders import (
    RECOMMENDERS, BuyAgain, CategoryAffinity, CoOccurrence, Hybrid, Interactions, Neighbours,
    Persona, Popularity, _rownorm,
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


def carrier_bag_shop() -> pd.DataFrame:
    """Everybody takes a carrier bag; half the people buy a teapot with its cosy, the other
    half a mug with its coaster; q0 has only bought a teapot so far."""
    rows = []
    for p in range(40):
        pair = ("teapot", "cosy") if p % 2 == 0 else ("mug", "coaster")
        for week in range(3):
            day = pd.Timestamp("2025-01-01") + pd.Timedelta(days=7 * week + p % 5)
            rows += [(f"p{p}", "bag", day), (f"p{p}", pair[0], day), (f"p{p}", pair[1], day)]
    rows.append(("q0", "teapot", pd.Timestamp("2025-01-20")))
    return pd.DataFrame(rows, columns=["person", "item", "ts"])


def test_ease_cooccurrence_suggests_what_goes_with_your_item_not_what_goes_with_everything() -> None:
    data = Interactions.from_frame(carrier_bag_shop())
    q0 = int(np.flatnonzero(data.persons == "q0")[0])
    ease = CoOccurrence(method="ease", l2=10.0).fit(data)
    assert ease.method_ == "ease"
    first_new = data.items[ease.top_k([q0], 1, exclude_seen=True)[0, 0]]
    assert first_new == "cosy"  # the teapot's companion, not the bag everyone takes
    teapot, cosy = (int(np.flatnonzero(data.items == x)[0]) for x in ("teapot", "cosy"))
    assert ease.because(q0, cosy) == [teapot]  # the reason text names the teapot
    assert (ease.sim.data > 0).all()  # no weight against is kept


def test_ease_falls_back_to_cosine_on_a_large_catalogue() -> None:
    data = Interactions.from_frame(carrier_bag_shop())
    co = CoOccurrence(method="ease", max_items=3).fit(data)
    assert co.method_ == "cosine" and co.sim.shape == (data.n_items, data.n_items)


def test_shipped_hybrid_suggests_new_items_from_the_persons_taste() -> None:
    from empatia.decide.engine import make_model

    split = Split.temporal(shop(), "2025-04-01")
    model = make_model().fit(split.train)
    assert model.parts["cooccurrence"].method_ == "ease"
    users = split.users_all[:20]
    top = model.top_k(users, 5, exclude_seen=True)
    for u, row in zip(users, top, strict=True):
        taste = "a" if int(split.train.persons[u][1:]) % 2 == 0 else "b"
        picks = [str(x) for x in split.train.items[row]]
        assert sum(x.startswith(taste) for x in picks) >= 4, picks


def tea_and_mug_shop() -> pd.DataFrame:
    """Teapot people and mug people. Last spring the teapot people also bought a kettle; this
    month most of them started on a new tea blend, while the (more numerous) mug people took
    to a new coaster. q1 has only bought a teapot, yesterday."""
    rows = []
    for p in range(30):
        rows.append((f"t{p}", "teapot", pd.Timestamp("2025-01-05") + pd.Timedelta(days=p % 7)))
        rows.append((f"t{p}", "kettle", pd.Timestamp("2025-01-06") + pd.Timedelta(days=p % 7)))
        if p % 3:
            rows.append((f"t{p}", "new blend", pd.Timestamp("2025-06-20") + pd.Timedelta(days=p % 9)))
    for p in range(50):
        rows.append((f"m{p}", "mug", pd.Timestamp("2025-01-05") + pd.Timedelta(days=p % 7)))
        rows.append((f"m{p}", "new coaster", pd.Timestamp("2025-06-20") + pd.Timedelta(days=p % 9)))
    rows.append(("q1", "teapot", pd.Timestamp("2025-06-30")))
    return pd.DataFrame(rows, columns=["person", "item", "ts"])


def test_people_like_you_suggest_what_they_took_to_lately() -> None:
    data = Interactions.from_frame(tea_and_mug_shop(), as_of=pd.Timestamp("2025-07-01"))
    q1 = int(np.flatnonzero(data.persons == "q1")[0])
    nb = Neighbours(k=10).fit(data)
    picks = [str(x) for x in data.items[nb.top_k([q1], 2, exclude_seen=True)[0]]]
    # the tea people's new habit first: not their old kettle, not what the mug crowd buys
    assert picks[0] == "new blend", picks
    popular = Popularity(window_days=30.0).fit(data)
    assert str(data.items[popular.top_k([q1], 1, exclude_seen=True)[0, 0]]) == "new coaster"


def test_hybrid_asks_people_like_you_only_when_named() -> None:
    from empatia.decide.engine import make_model

    data = Interactions.from_frame(tea_and_mug_shop(), as_of=pd.Timestamp("2025-07-01"))
    q1 = int(np.flatnonzero(data.persons == "q1")[0])
    shipped = make_model().fit(data)
    assert "neighbours" not in shipped.components(np.array([q1]))
    on = make_model({"cooccurrence": 0.25, "neighbours": 1.0}).fit(data)
    assert "neighbours" in on.components(np.array([q1]))
    assert str(data.items[on.top_k([q1], 1, exclude_seen=True)[0, 0]]) == "new blend"


def _hybrid() -> Hybrid:
    from empatia.decide.engine import make_model

    weights = {"buy_again": 1.0, "cooccurrence": 0.25, "als": 0.5, "trending": 0.25,
               "affinity": 0.1, "neighbours": 0.2}  # fmt: skip
    return make_model(weights, factors=8)


def test_a_model_rebased_on_a_batch_scores_its_people_as_the_fit_did() -> None:
    """What the batch run does on each executor: the model, rebased on a few people's own
    occasions, gives them the scores the model fitted on everyone gave them."""
    df = shop()
    data = Interactions.from_frame(df)
    model = _hybrid().fit(data)
    some = ["p7", "p40", "p41", "p99"]
    batch = Interactions.from_frame(df[df.person.isin(some)], as_of=data.as_of, items=data.items,
                                    persons=some)  # fmt: skip
    batch.category = data.category
    rows = [int(np.flatnonzero(data.persons == p)[0]) for p in some]
    mine = model.rebase(batch)
    whole = model.components(np.array(rows))
    for name, block in mine.components(np.arange(len(some))).items():
        np.testing.assert_allclose(block, whole[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_someone_the_fit_never_saw_is_scored_from_their_own_purchases() -> None:
    """A model fitted on a sample of people scores anyone else from their occasions (their
    ALS factors solved on the fitted items): an odd person's taste is the B items, never A."""
    df = shop()
    seen = df[df.person != "p41"]
    data = Interactions.from_frame(seen)
    model = _hybrid().fit(data)
    new = Interactions.from_frame(df[df.person == "p41"], as_of=data.as_of, items=data.items,
                                  persons=["p41"])  # fmt: skip
    new.category = data.category
    mine = model.rebase(new)
    als = mine.parts["als"]
    assert np.abs(als.user_factors[0]).sum() > 0  # solved, not left empty
    top = mine.top_k([0], 10)[0]
    items = [str(data.items[i]) for i in top]
    assert items[0] == "b1"  # their own weekly favourite first (p41 % 20)
    assert not any(i.startswith("a") for i in items), items
    alone = _rownorm(als.scores(np.array([0])))[0]  # their ALS factors alone lean to B
    b = np.array([str(x).startswith("b") for x in data.items])
    a = np.array([str(x).startswith("a") for x in data.items])
    assert alone[b].mean() > 3 * alone[a].mean()
