"""An incremental ``profiles`` run rebuilds only the changed people, and ends where ``--full``
does (issue #14, #7): new orders, a new person, a merge, an erasure."""

from __future__ import annotations

from empatia.identity.config import IdentityConfig
from empatia.identity.incremental import attach_new_events
from empatia.identity.resolve import resolve
from empatia.profiles.config import ProfileConfig
from empatia.profiles.money import Reporting
from empatia.profiles.stage import run_profiles
from empatia.store import Store
from empatia.store.engine import connect
from tests.identity.world import add_events, ev
from tests.profiles.world import shop_events
from tests.store.incremental_world import Outcome, differences


def test_new_events_rebuild_only_the_changed_people(incremental_outcome: Outcome) -> None:
    fig = incremental_outcome.figures["profiles"]
    assert fig["mode"] == "incremental"
    # the buyer, the writer, the new person, the survivor and the absorbed person of the merge
    assert 3 <= fig["recomputed"] <= 6 < incremental_outcome.persons
    for table in ("profiles", "profile_traits"):
        assert differences(incremental_outcome, table) == [], table


def test_an_erasure_rebuilds_everything(erasure_outcome: Outcome) -> None:
    assert erasure_outcome.figures["profiles"]["mode"] == "full (erasure since)"
    for table in ("profiles", "profile_traits"):
        assert differences(erasure_outcome, table) == [], table


def _table(store: Store, table: str) -> list[tuple[object, ...]]:
    return store.con.execute(f"select * from {table} order by all").fetchall()


def test_population_columns_match_a_rebuild_with_clv_fitted() -> None:
    """RFM scores, recency and CLV (fitted here: 40 buyers) are recomputed for everyone."""
    with Store(":memory:") as store:
        add_events(store, shop_events())
        eng = connect(store)
        resolve(eng, IdentityConfig(probabilistic=False, default_region="PL"))
        config, pln = ProfileConfig(clv_min_customers=10), Reporting("PLN")
        run_profiles(eng, config, money=pln)
        assert store.con.execute("select count(clv_12m) from profiles").fetchone()[0] > 10
        add_events(store, [
            ev("track", user="u3", event="Order Completed", day=80,
               properties={"order_id": "n1", "total": 99, "currency": "PLN"}),
            ev("identify", user="u4", traits={"email": "p7@shop.com"}, day=81),  # merges u4, u7
            ev("identify", user="fresh", traits={"firstName": "Fresh"}, day=82),
        ])  # fmt: skip
        attach_new_events(store, IdentityConfig(probabilistic=False, default_region="PL"))
        fig = run_profiles(eng, config, full=False, money=pln)
        assert fig["mode"] == "incremental" and fig["recomputed"] == 4, fig
        assert fig["clv_model"] == "refitted"  # "now" moved by weeks
        incremental = {t: _table(store, t) for t in ("profiles", "profile_traits")}
        assert run_profiles(eng, config, full=True, money=pln)["mode"] == "full"
        for table, rows in incremental.items():
            assert rows == _table(store, table), table
        # the same day, no new buyer: the model's parameters are kept, predictions made again
        add_events(store, [ev("page", user="u5", day=82)])
        attach_new_events(store, IdentityConfig(probabilistic=False, default_region="PL"))
        fig = run_profiles(eng, config, full=False, money=pln)
        assert fig["recomputed"] == 1 and fig["clv_model"] == "kept", fig
        incremental = {t: _table(store, t) for t in ("profiles", "profile_traits")}
        run_profiles(eng, config, full=True, money=pln)
        for table, rows in incremental.items():
            assert rows == _table(store, table), table
        eng.close()
