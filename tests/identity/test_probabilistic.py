from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from empatia.identity.config import IdentityConfig
from empatia.identity.resolve import resolve
from empatia.store import Store
from empatia.store.engine import Engine, connect
from tests.identity.world import add_events, crm_records, ev

FIRST = ["anna", "piotr", "maria", "jan", "olga", "ivan", "sara", "reza", "lena", "tomas",
         "zofia", "omid", "nina", "adam", "eva", "karol", "mina", "oleg", "ida", "leon"]  # fmt: skip
LAST = ["kowalska", "nowak", "ivanova", "petrov", "ahmadi", "karimi", "muller", "schmidt",
        "garcia", "lopez", "martin", "bernard", "wisniewska", "wojcik", "smirnov", "rostami",
        "weber", "fischer", "moreau", "dubois"]  # fmt: skip


def typo(s: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(s) - 1)
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def crm_world(n: int = 60, dupes: int = 12, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        people.append({
            "firstName": FIRST[i % 20], "lastName": LAST[(i * 7) % 20],
            "birthDate": f"19{50 + i % 45}-{1 + i % 12:02d}-{1 + (i * 3) % 28:02d}",
            "address": {"city": ["warszawa", "krakow", "berlin", "madrid", "tehran"][i % 5],
                        "street": f"{['lipowa', 'main', 'ring', 'azadi'][i % 4]} {i}",
                        "postalCode": f"{10000 + i * 37}"},
        })  # fmt: skip
    events = [ev("identify", user=f"c{i}", traits={**p, "crmId": f"CRM{i}"}, source="file:crm.csv")
              for i, p in enumerate(people)]  # fmt: skip
    for i in range(dupes):  # the loyalty programme typed the same people again, with typos
        p = dict(people[i])
        p["lastName"] = typo(p["lastName"], rng)
        events.append(ev("identify", anon=f"shop{i}", traits={**p, "loyaltyId": f"L{i}"}))
    return events


def test_records_without_shared_ids_are_matched(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, crm_world())
    figures = resolve(duck, IdentityConfig(default_region="PL"))
    assert figures["matched_pairs"] >= 10
    rows = mem_store.con.execute(
        "select a.value, b.value from identities a join identities b using (person_id)"
        " where a.kind = 'crm_id' and b.kind = 'loyalty_id'"
    ).fetchall()
    pairs = {(a, b) for a, b in rows}
    correct = {(f"CRM{i}", f"L{i}") for i in range(12)}
    assert len(pairs & correct) >= 10 and pairs <= correct
    reasons = mem_store.con.execute("select count(*) from identity_matches").fetchone()
    assert reasons and reasons[0] == figures["matched_pairs"]


def test_threshold_sends_pairs_to_review(mem_store: Store, duck: Engine) -> None:
    add_events(mem_store, crm_world())
    figures = resolve(duck, IdentityConfig(match_threshold=1.0, review_threshold=0.3))
    assert figures["matched_pairs"] == 0 and figures["review_pairs"] >= 10
    persons = mem_store.con.execute(
        "select count(*) from identity_review where person_id_l is not null and person_id_l <> person_id_r"
    ).fetchone()
    assert persons and persons[0] == figures["review_pairs"]


def test_review_decisions_are_applied(mem_store: Store, duck: Engine) -> None:
    from empatia.identity.probabilistic import decide_review

    add_events(mem_store, crm_world())
    cfg = IdentityConfig(match_threshold=1.0, review_threshold=0.3)
    resolve(duck, cfg)
    pairs = mem_store.con.execute(
        "select kind_l, value_l, kind_r, value_r from identity_review order by all limit 2"
    ).fetchall()
    assert decide_review(mem_store, *pairs[0], accept=True) == 1
    assert decide_review(mem_store, *pairs[1], accept=False) == 1
    figures = resolve(duck, cfg)
    assert figures["matched_pairs"] == 1
    same = mem_store.con.execute(
        "select count(distinct person_id) from identities where (kind, value) in"
        " (select (kind_l, value_l) from identity_decisions where status = 'accepted'"
        "  union all select (kind_r, value_r) from identity_decisions where status = 'accepted')"
    ).fetchone()
    assert same == (1,)
    open_pairs = mem_store.con.execute(
        "select count(*) from identity_review where"
        " (kind_l, value_l, kind_r, value_r) = (?, ?, ?, ?)",
        list(pairs[1]),
    ).fetchone()
    assert open_pairs == (0,)


def test_answers_given_before_the_split_are_kept(tmp_path: Path) -> None:
    """A store whose review list held people's answers (identity 0002) moves them to
    ``identity_decisions`` when a newer Empatia opens it; the open pairs stay listed."""
    from empatia.identity.views import review
    from empatia.store.store import discover_migrations

    db = tmp_path / "old.duckdb"
    old = [m for m in discover_migrations() if m.component != "identity" or m.version <= 2]
    with Store(db, migrate=False) as s:
        s.migrate(old)
        s.con.execute("insert into identity_review values"
                      " ('crm_id', 'A', 'crm_id', 'B', 0.7, 'p1', 'p2', 'accepted'),"
                      " ('crm_id', 'C', 'crm_id', 'D', 0.6, 'p3', 'p4', 'rejected'),"
                      " ('crm_id', 'E', 'crm_id', 'F', 0.5, 'p5', 'p6', 'open')")  # fmt: skip
    with Store(db) as s:
        assert s.con.execute("select value_l, status, match_probability from identity_decisions"
                             " order by 1").fetchall() == [("A", "accepted", 0.7),
                                                           ("C", "rejected", 0.6)]  # fmt: skip
        assert [r["value_l"] for r in review(s)] == ["E"]


def test_ctrl_c_while_splink_queries_stops_the_run(
    mem_store: Store, duck: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+C inside a DuckDB query reaches Python as DuckDB's InterruptException, an Exception:
    matching's "failed, go on without it" must not take it for a failed model and finish the run."""
    from empatia.identity import probabilistic

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(probabilistic, "predict", interrupted)
    add_events(mem_store, crm_world())
    with pytest.raises(duckdb.InterruptException):
        resolve(duck, IdentityConfig(default_region="PL"))


def _matched(store: Store, eng: Engine, events: list[dict[str, Any]]
             ) -> tuple[dict[str, Any], list[tuple[str, str]]]:  # fmt: skip
    add_events(store, events)
    figures = resolve(eng, IdentityConfig(default_region="PL"), run_id="r")
    return figures, store.con.execute("select value_l, value_r from identity_matches").fetchall()


def test_every_em_session_finishes_where_a_level_s_weight_underflows(mem_store: Store, duck: Engine
                                                                    ) -> None:  # fmt: skip
    """In this CRM world EM drives the m probability of a postal-code level toward 0; Splink
    5.0 then stopped the session half-way (below its 1e-300 floor) and the model kept an
    untrained weight: 82 pairs linked, 2 of them strangers, and 100 pairs sent to review. The
    session now finishes: each loyalty copy linked to its CRM record, and nothing else."""
    figures, rows = _matched(mem_store, duck, crm_records(300, 80))
    assert "em_sessions_skipped" not in figures, figures
    assert sorted(rows) == sorted((f"CRM{i}", f"L{i}") for i in range(80))
    assert figures["review_pairs"] == 0 and figures["persons"] == 300


def test_an_em_session_without_pairs_is_said_in_the_figures(mem_store: Store, duck: Engine) -> None:
    # no two records share a birth date or a postal code: the model's two EM sessions (one
    # blocked on each) have no pairs to learn from, and the run says so
    events = crm_records(300, 80)
    rng = random.Random(1)
    days, codes = rng.sample(range(20000), len(events)), rng.sample(range(100000), len(events))
    for i, e in enumerate(events):
        e["traits"]["birthDate"] = str(date(1940, 1, 1) + timedelta(days[i]))
        e["traits"]["address"] = {**e["traits"]["address"], "postalCode": f"{codes[i]:05d}"}
    figures, _ = _matched(mem_store, duck, events)
    assert figures["em_sessions_skipped"] == 2, figures


def test_a_name_hundreds_share_is_no_block_but_their_duplicates_still_meet(
    mem_store: Store, duck: Engine
) -> None:
    """Past :data:`MAX_BLOCK` namesakes the name rule stops comparing them (their pairs grow as
    the square of the people); a namesake typed twice still meets on birth date and postal
    code (that a rare name still blocks: the test below)."""
    from empatia.identity.probabilistic import MAX_BLOCK

    people = [{"firstName": "anna", "lastName": "kowalska",
               "birthDate": str(date(1950, 1, 1) + timedelta(days=97 * i)),
               "address": {"city": "warszawa", "street": f"lipowa {i}",
                           "postalCode": f"{10000 + i * 37}"}} for i in range(MAX_BLOCK + 20)]  # fmt: skip
    people += [{"firstName": f, "lastName": LAST[i], "birthDate": f"19{60 + i}-0{1 + i % 9}-1{i}",
                "address": {"city": "krakow", "street": f"ring {i}", "postalCode": f"3{i}000"}}
               for i, f in enumerate(FIRST[1:])]  # fmt: skip
    events = [ev("identify", user=f"c{i}", traits={**p, "crmId": f"CRM{i}"})
              for i, p in enumerate(people)]  # fmt: skip
    namesake = {**people[5], "address": {**people[5]["address"], "street": "lipwoa 5"}}
    events.append(ev("identify", anon="shop1", traits={**namesake, "loyaltyId": "L1"}))
    add_events(mem_store, events)
    resolve(duck, IdentityConfig(default_region="PL"))
    rows = mem_store.con.execute(
        "select a.value, b.value from identities a join identities b using (person_id)"
        " where a.kind = 'loyalty_id' and b.kind = 'crm_id'").fetchall()  # fmt: skip
    assert rows == [("L1", "CRM5")]
    persons = mem_store.con.execute("select count(distinct person_id) from identities"
                                    " where kind = 'crm_id'").fetchone()  # fmt: skip
    assert persons == (len(people),)  # no two namesakes made one


def test_capped_blocks_keys_only_blocks_of_at_most_max_block(duck: Engine) -> None:
    import pyarrow as pa

    from empatia.identity.probabilistic import MAX_BLOCK, capped_blocks

    n = MAX_BLOCK + 1
    recs = duck.from_arrow(pa.table({
        "unique_id": [str(i) for i in range(n + 3)],
        "first_name": ["anna"] * n + ["zofia", "zofia", None],
        "last_name": ["kowalska"] * n + ["nowak", "nowak", "nowak"],
        "email": [None] * n + ["z@x.pl", None, None]}), "recs")  # fmt: skip
    keyed, rules = capped_blocks(recs, [("first_name", "last_name"), ("email",), "l.a = r.b"])
    assert rules == [("block_first_name_last_name",), ("email",), "l.a = r.b"]
    rows = duck.to_arrow(keyed).to_pylist()
    keys = {r["unique_id"]: r["block_first_name_last_name"] for r in rows}
    assert {keys[str(i)] for i in range(n)} == {None}  # 101 namesakes: no block
    assert keys[str(n)] == keys[str(n + 1)] == "zofia\x1fnowak" and keys[str(n + 2)] is None


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 3 * 20 + 7), min_size=1, max_size=3),
       missing=st.integers(0, 3), seed=st.integers(0, 2**16))  # fmt: skip
def test_em_blocks_cut_each_birth_date_into_chunks_of_at_most_em_block(
    sizes: list[int], missing: int, seed: int
) -> None:
    """An EM session on a birth date thousands share compares only pairs inside chunks of at
    most :data:`EM_BLOCK` of them; every record with a date is in one chunk, the chunks are
    as few as they can be, and they do not depend on the order the records come in."""
    import pyarrow as pa

    from empatia.identity.probabilistic import EM_BLOCK, em_blocks

    dates = [d for i, n in enumerate(sizes) for d in [f"1980-01-{i + 1:02d}"] * n] + [None] * missing
    ids = [f"r{i}" for i in range(len(dates))]
    order = list(range(len(dates)))
    random.Random(seed).shuffle(order)
    found = []
    for rows in (range(len(dates)), order):
        with Store(":memory:") as s, connect(s) as eng:
            recs = eng.from_arrow(pa.table({"unique_id": pa.array([ids[i] for i in rows], pa.string()),
                                            "birth_date": pa.array([dates[i] for i in rows], pa.string())}))  # fmt: skip
            out = eng.to_arrow(em_blocks(recs, ["birth_date"])).to_pylist()
        found.append({r["unique_id"]: r["em_birth_date"] for r in out})
    keys = found[0]
    assert found[1] == keys  # the same chunks whatever the order
    by_key: dict[str, list[str]] = {}
    for i, d in zip(ids, dates, strict=True):
        assert (keys[i] is None) == (d is None)
        if d is not None:
            assert keys[i].startswith(d + "\x1f")
            by_key.setdefault(keys[i], []).append(i)
    assert all(len(v) <= EM_BLOCK for v in by_key.values())
    assert len(by_key) == sum(-(-n // EM_BLOCK) for n in sizes)
