from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime

import ibis
from ibis import _
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empatia.identity.config import IdentityConfig
from empatia.identity.resolve import resolve
from empatia.profiles.build import rfm_scores
from empatia.profiles.config import ProfileConfig
from empatia.profiles.money import Reporting
from empatia.profiles.stage import run_profiles
from empatia.store import Store
from empatia.store.engine import Engine, connect
from tests.identity.world import add_events, ev
from tests.profiles.world import shop_events


@pytest.fixture
def built() -> Iterator[tuple[Store, Engine]]:
    store = Store(":memory:")
    add_events(store, shop_events())
    eng = connect(store)
    resolve(eng, IdentityConfig(probabilistic=False, default_region="PL"))
    yield store, eng
    eng.close()
    store.close()


def profile(store: Store, user: str) -> dict[str, object]:
    cur = store.con.execute("select * from profiles where user_id = ?", [user])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None
    return dict(zip(names, row, strict=True))


def test_one_profile_per_person_with_rhythm_and_value(built: tuple[Store, Engine]) -> None:
    store, eng = built
    figures = run_profiles(eng, ProfileConfig(), money=Reporting("PLN"))  # a shop in złoty
    assert figures["profiles"] == 40
    p = profile(store, "u3")  # 4 orders, every 6 days
    assert p["orders"] == 4 and p["identifiers"] == 4  # user, anonymous id, email, phone
    assert p["email"] == "p3@shop.com" and p["phone"] == "+48225550303"
    assert p["cadence_days"] == 6.0
    assert p["channels"] == "web,app,store,crm" and p["channel_count"] == 4
    assert p["revenue"] == sum(10 + (3 * 7 + k * 3) % 50 for k in range(4))
    assert p["currency"] == "PLN" and p["revenue_by_currency"] == {"PLN": p["revenue"]}
    last: datetime = p["last_order_at"]  # type: ignore[assignment]
    nxt: datetime = p["next_purchase_at"]  # type: ignore[assignment]
    assert (nxt.date() - last.date()).days == 6
    as_of: datetime = p["as_of"]  # type: ignore[assignment]
    assert p["days_overdue"] == pytest.approx((as_of - nxt).total_seconds() / 86400, abs=1e-3)
    assert 1 <= p["r_score"] <= 5 and p["rfm"] == f"{p['r_score']}{p['f_score']}{p['m_score']}"  # type: ignore[operator]
    assert p["clv_12m"] is not None and p["clv_12m"] > 0  # type: ignore[operator]
    assert 0 <= p["p_alive"] <= 1  # type: ignore[operator]
    single = profile(store, "u0")  # one order: no cadence
    assert single["orders"] == 1 and single["cadence_days"] is None


def test_latest_trait_wins_unless_a_source_is_preferred(built: tuple[Store, Engine]) -> None:
    store, eng = built
    run_profiles(eng, ProfileConfig())
    assert profile(store, "u5")["first_name"] == "Crm5"  # crm came later
    run_profiles(eng, ProfileConfig(source_precedence=("web",)))
    assert profile(store, "u5")["first_name"] == "Web5"
    run_profiles(
        eng, ProfileConfig(source_precedence=("web",), trait_precedence={"first_name": ("crm",)})
    )
    assert profile(store, "u5")["first_name"] == "Crm5"
    src = store.con.execute(
        "select t.source from profile_traits t join profiles p using (person_id)"
        " where p.user_id = 'u5' and t.trait = 'first_name'"
    ).fetchone()
    assert src == ("crm",)


def test_preferred_channel_and_hour() -> None:
    with Store(":memory:") as store:
        add_events(store, [
            ev("track", user="z", event="Message Sent", day=d + 0.25, context={"channel": "chat"})
            for d in range(3)
        ] + [ev("page", user="z", day=5)])  # fmt: skip
        eng = connect(store)
        resolve(eng, IdentityConfig(probabilistic=False))
        run_profiles(eng, ProfileConfig())
        p = profile(store, "z")
        assert p["preferred_channel"] == "chat" and p["preferred_hour"] == 15  # 09:00 + 6 h UTC
        assert p["orders"] == 0 and p["clv_12m"] is None
        assert p["first_seen"] == datetime(2026, 1, 1, 15, tzinfo=UTC)
        eng.close()


def test_an_empty_store_runs() -> None:
    from empatia.pipeline import RunContext, run_pipeline
    from empatia.workspace import Workspace

    with Workspace(db=":memory:") as ws:
        results = run_pipeline(RunContext(ws), only=["identity", "profiles"])
        assert [r.figures.get("persons", r.figures.get("profiles")) for r in results] == [0, 0]


def test_a_run_with_nothing_new_is_skipped(built: tuple[Store, Engine]) -> None:
    store, eng = built
    assert run_profiles(eng, ProfileConfig(), full=False)["profiles"] == 40
    assert run_profiles(eng, ProfileConfig(), full=False) == {"profiles": "unchanged"}
    assert run_profiles(eng, ProfileConfig(clv_months=6), full=False)["profiles"] == 40
    add_events(store, [ev("page", user="u1", day=90)])
    resolve(eng, IdentityConfig(probabilistic=False, default_region="PL"))
    assert run_profiles(eng, ProfileConfig(clv_months=6), full=False)["profiles"] == 40


def test_a_one_time_buyer_long_gone_is_not_100_percent_still_active() -> None:
    """Plain BG/NBD calls every one-time buyer 100% alive; the shown chance must fall with
    the time since their only purchase, as it does for repeat buyers."""
    import pandas as pd

    from empatia.profiles.clv import fit_clv
    from empatia.profiles.config import ProfileConfig

    rows = [(f"r{k}", 3 + k % 5, 100.0 + k, 200.0 + k, 20.0) for k in range(40)]  # repeaters
    rows += [("once_recent", 0, 0.0, 10.0, 20.0), ("once_long_ago", 0, 0.0, 600.0, 20.0)]
    summary = pd.DataFrame(rows, columns=["person_id", "frequency", "recency", "T",
                                          "monetary_value"])  # fmt: skip
    out = fit_clv(summary, ProfileConfig()).to_pandas().set_index("person_id")["p_alive"]
    assert out["once_long_ago"] < out["once_recent"] <= 1
    assert out["once_long_ago"] < 0.9


def test_the_clv_model_is_fitted_on_a_bounded_sample_and_scores_everyone(
    built: tuple[Store, Engine],
) -> None:
    """What the fit brings into one process stops growing at ``clv_fit_buyers``: the same
    buyers each time (lowest SHA-256 of the person id), and every buyer still gets a CLV."""
    import hashlib
    import json

    store, eng = built
    run_profiles(eng, ProfileConfig(clv_fit_buyers=25, clv_min_customers=5))
    model = json.loads(store.con.execute(
        "select value from profiles_state where key = 'clv_model'").fetchone()[0])  # type: ignore[index]  # fmt: skip
    buyers = [r[0] for r in store.con.execute(
        "select person_id from profiles where orders > 0").fetchall()]  # fmt: skip
    assert len(buyers) > 25 and model["buyers"] == len(buyers) and model["fitted_on"] == 25
    assert store.con.execute("select count(*) from profiles where orders > 0 and p_alive is null"
                             ).fetchone() == (0,)  # fmt: skip
    run_profiles(eng, ProfileConfig(clv_min_customers=5), full=True)
    assert json.loads(store.con.execute(
        "select value from profiles_state where key = 'clv_model'"
    ).fetchone()[0])["fitted_on"] == len(buyers)  # type: ignore[index]  # fmt: skip
    sample = sorted(buyers, key=lambda p: hashlib.sha256(p.encode()).hexdigest())[:25]
    from empatia.profiles.clv import fit_sample

    assert sorted(eng.to_arrow(fit_sample(eng.table("profiles").filter(
        eng.table("profiles").orders > 0), 25)).column("person_id").to_pylist()) == sorted(sample)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(
    st.floats(0, 900, allow_nan=False).map(lambda x: round(x, 4)) | st.integers(0, 3).map(float),
    st.integers(1, 6),
    st.none() | st.floats(-50, 500, allow_nan=False).map(lambda x: round(x, 2)),
), min_size=1, max_size=60))  # fmt: skip
def test_rfm_scores_are_the_quintiles_among_all_buyers(
    buyers: list[tuple[float, int, float | None]],
) -> None:
    t = ibis.memtable({"recency_days": [b[0] for b in buyers], "orders": [b[1] for b in buyers],
                       "revenue": [b[2] for b in buyers]},
                      schema={"recency_days": "float64", "orders": "int64", "revenue": "float64"})  # fmt: skip
    t = t.mutate(person_id=ibis.row_number().cast("string"))
    got = rfm_scores(t).order_by(_.person_id.cast("int64")).to_pyarrow().to_pydict()
    n, paid = len(buyers), [b[2] for b in buyers if b[2] is not None]
    for k, (recency, orders, revenue) in enumerate(buyers):
        assert got["r_score"][k] == math.ceil(sum(b[0] >= recency for b in buyers) / n * 5)
        assert got["f_score"][k] == math.ceil(sum(b[1] <= orders for b in buyers) / n * 5)
        m = None if revenue is None else math.ceil(sum(v <= revenue for v in paid) / len(paid) * 5)
        assert got["m_score"][k] == m


def test_no_buyer_has_a_negative_lifetime_value() -> None:
    """The 100k demo world's fit (q < 1: Gamma-Gamma's mean spend is then not finite) gave
    32,641 one-time buyers a negative CLV; a buyer's value is never below zero, and where the
    model's expectation does not hold their own average order stands in."""
    from empatia.profiles.clv import MODEL_KIND, score_batch

    model = {"kind": MODEL_KIND, "penalizer": 0.01,
             "bgf": {"r": 0.517, "alpha": 53.0, "a": 0.0823, "b": 0.558},
             "gg": {"p": 3.68, "q": 0.682, "v": 3.52}}  # fmt: skip
    buyers = pa.table({"person_id": ["once_small", "once_big", "twice", "often"],
                       "frequency": [0.0, 0.0, 1.0, 12.0], "recency": [0.0, 0.0, 30.0, 300.0],
                       "T": [40.0, 40.0, 90.0, 320.0], "monetary_value": [15.0, 150.0, 40.0, 40.0]})  # fmt: skip
    clv = dict(zip(*score_batch(model, 12, 0.01, buyers).select(["person_id", "clv_12m"])
                   .to_pydict().values(), strict=True))  # fmt: skip
    assert all(v is not None and v >= 0 for v in clv.values()), clv
    assert clv["once_big"] > clv["once_small"] > 0
