"""The decide stage on Spark: scoring and choosing run in Spark's Python workers
(``mapInArrow``), with the fitted model shipped to them, and every row of ``decide_inputs``
and ``decisions`` is the one DuckDB makes in process — after training and after a refresh.
The people's states, read on the engine, are the same on both, for every kind of state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from empatia.decide import signals
from empatia.decide.catalogue import load_catalogue
from empatia.decide.engine import WRITES, run
from empatia.decide.refresh import refresh
from empatia.pipeline import RunContext, run_pipeline
from empatia.store import Store
from empatia.store.engine import DuckDBEngine, connect
from empatia.store.scoped import stage_transaction
from empatia.workspace import Workspace
from tests.decide.world import build, order
from tests.identity.world import add_events, ev

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("EMPATIA_SPARK_TESTS"), reason="set EMPATIA_SPARK_TESTS=1"),
]

_TIMES = ("train_s", "decide_s")


def _rows(s: Store) -> dict[str, Any]:
    return {
        "inputs": s.con.execute(
            "select person_id, candidates::varchar, state::varchar, cold_start, computed_at, seq"
            " from decide_inputs order by person_id"
        ).fetchall(),
        "decisions": s.con.execute(
            "select person_id, action, kind, channel, items::varchar, reason, scores::varchar,"
            " policy::varchar, fallback, cost, expires_at, decided_at"
            " from decisions order by person_id"
        ).fetchall(),
    }


def _decide(engine: str, session: Any = None) -> dict[str, Any]:
    catalogue = load_catalogue()
    with Store(":memory:") as s:
        build(s, n=12)
        # orders in other currencies: PLN at the rate of the day or the latest before it,
        # USD without a rate (its quantity alone)
        s.con.execute("insert into exchange_rates values ('EUR', 'PLN', date '2000-01-01', 4.0),"
                      " ('EUR', 'PLN', date '2100-01-01', 5.0)")
        extra = [order("u1", 50.5, [3]), order("u2", 60.5, [5, 3]), order("u3", 70.5, [3])]
        for e, cur in zip(extra, ("PLN", "PLN", "USD"), strict=True):
            e["properties"]["currency"] = cur
        add_events(s, extra)
        s.con.execute("insert into event_persons select seq, 'p_' || user_id from events"
                      " where seq > (select max(seq) from event_persons)")
        with stage_transaction(s, "decide", WRITES) as db:
            eng = connect(db, engine, session=session)  # type: ignore[arg-type]
            now = signals.clock(eng)[0]
            occ = signals.occasions_frame(eng.to_arrow(signals.fit_occasions(eng, now)))
            figures = run(db, catalogue=catalogue, eng=eng)
            eng.close()
        trained = _rows(s)
        # u5 withdraws personalisation; a newcomer arrives: a refresh of just them
        add_events(s, [ev(event="Consent Updated", user="u5", day=91,
                          properties={"purpose": "personalisation", "granted": False})])
        s.con.execute("insert into event_persons select max(seq), 'p_u5' from events")
        with stage_transaction(s, "decide", WRITES) as db:
            eng = connect(db, engine, session=session)  # type: ignore[arg-type]
            refreshed = refresh(db, ["p_u5", "p_u6", "p_late"], catalogue, eng=eng)
            eng.close()
        return {
            "occasions": [tuple(r) for r in occ.astype(object).where(occ.notna(), None).values],
            "figures": {k: v for k, v in figures.items() if k not in _TIMES},
            "refreshed": {k: v for k, v in refreshed.items() if k not in _TIMES},
            "trained": trained,
            "after": _rows(s),
        }


def test_decide_runs_on_spark_and_makes_the_same_decisions(spark_session: Any) -> None:
    spark, duck = _decide("spark", spark_session), _decide("duckdb")
    assert spark == duck
    qty = {(r[0], r[1]): r[3] for r in duck["occasions"]}
    assert len(qty) > 12 and qty[("p_u1", "sku-mug")] == pytest.approx(8.0 / 4.0)  # PLN
    assert qty[("p_u3", "sku-mug")] == 1.0  # USD: no rate
    assert duck["figures"]["decisions"] == 13 and duck["figures"]["cold_start"] == 1
    decisions = {r[0]: r for r in duck["trained"]["decisions"]}
    assert decisions["p_u2"][1] == "service_callback" and decisions["p_u4"][1] == "human_care"
    assert sum(1 for r in duck["trained"]["decisions"] if r[2] in ("offer", "coupon")) > 0
    assert duck["refreshed"]["decisions"] == 3
    inputs = {r[0]: r for r in duck["after"]["inputs"]}
    assert inputs["p_late"][3] and not inputs["p_u6"][3]  # the newcomer gets the cold start
    assert duck["after"]["decisions"] != duck["trained"]["decisions"]


def _stage(tmp_path: Path, engine: str, session: Any = None) -> dict[str, Any]:
    """The stage itself, through the pipeline: it trains, then refreshes the changed people."""
    out: dict[str, Any] = {}
    with Workspace(db=tmp_path / f"{engine}.duckdb") as ws:
        build(ws.store, n=8)
        for run_ in ("first", "second"):
            if run_ == "second":  # u6 buys again: a refresh of just them
                add_events(ws.store, [order("u6", 90.5, [2])])
                ws.store.con.execute("insert into event_persons select max(seq), 'p_u6' from events")
            export = tmp_path / f"{engine}-{run_}.csv"
            ctx = RunContext(ws, engine=engine, spark_session=session,  # fit on 5 of 8 buyers
                             settings={"decide": {"export": str(export), "fit_people": 5}})  # fmt: skip
            (result,) = run_pipeline(ctx, only=["decide"])
            out[run_] = {k: v for k, v in result.figures.items()
                         if k not in _TIMES and not k.startswith("driver_")}  # Spark's own
            out[f"{run_} export"] = export.read_text()
        out["rows"] = _rows(ws.store)
    return out


def test_the_stage_runs_on_spark_in_its_transaction(spark_session: Any, tmp_path: Path) -> None:
    spark, duck = _stage(tmp_path, "spark", spark_session), _stage(tmp_path, "duckdb")
    assert spark == duck
    assert duck["first"]["retrained"] == "no model yet" and duck["first"]["decisions"] == 9
    assert duck["second"]["retrained"] == "no" and duck["second"]["decisions"] >= 1
    assert len(duck["rows"]["decisions"]) == 9 and duck["second export"].count("\n") == 10


def _texts(s: Store, rows: list[tuple[str, float, float | None, float | None, float | None, str | None]]
           ) -> None:
    """Analysed messages: (user, day, anger, frustration, score, escalation)."""
    add_events(s, [ev(event="Chat Message", user=u, day=day) for u, day, *_ in rows])
    seqs = [r[0] for r in s.con.execute("select seq from events order by seq desc limit ?",
                                        [len(rows)]).fetchall()][::-1]  # fmt: skip
    s.con.execute("insert into event_persons select seq, 'p_' || user_id from events"
                  " where seq > (select max(seq) from event_persons)")
    for seq, (_, _, anger, frustration, score, escalation) in zip(seqs, rows, strict=True):
        s.con.execute("insert into text_analysis (seq, \"timestamp\", anger, frustration, score,"
                      " escalation, text_hash, analyzer, analyzed_at) select seq, \"timestamp\","
                      " ?, ?, ?, ?, 'h', 'test', now() from events where seq = ?",
                      [anger, frustration, score, escalation, seq])  # fmt: skip


def _states_world(s: Store) -> None:
    """Every kind of state the policy reads: moods, old hurts (one a kind word made right),
    cases that hurt, unresolved journeys, contacts (events, delivered decisions), surveys."""
    build(s, n=8)
    add_events(s, [
        ev(event="Email Sent", user="u1", day=89, properties={"channel": "email"}),
        ev(event="Offer Sent", user="u1", day=89.5, context={"channel": "call_centre"}),
        ev(event="SMS Sent", user="u2", day=88),
        ev(event="Survey Sent", user="u5", day=70),
        ev(event="Case Opened", user="u6", day=80, properties={"case_id": "c6", "topic": "refund"}),
        ev(event="Case Resolved", user="u6", day=81, properties={"case_id": "c6"}),
        ev(event="Case Opened", user="u7", day=85, properties={"case_id": "c7", "topic": "billing"}),
        ev(event="Page Viewed", user="u3", day=87,
           context={"consent": {"marketing_sms": "yes", "profiling": 0, "odd": "1"}}),
        ev(event="Consent Updated", user="u6", day=87, properties={"purpose": "analytics", "granted": "Y"}),
    ])  # fmt: skip
    s.con.execute("insert into event_persons select seq, 'p_' || user_id from events"
                  " where seq > (select max(seq) from event_persons)")
    # "new" has not bought since their old hurt; u6's was made right by a kind word
    _texts(s, [("new", 20, 0.2, None, -0.7, '[{"cue": "public"}, {"cue": "repeat"}, {"n": 1}]'),
               ("u6", 20, 0.8, 0.1, -0.5, None), ("u6", 30, 0.0, 0.0, 0.6, "[]"),
               ("u7", 85, 0.3, 0.7, -0.2, '[{"cue": "legal"}, {"cue": "leave"}]'),
               ("u7", 86, None, None, 0.1, '{"cue": "public"}')])  # fmt: skip
    now = _now(s)
    s.con.execute("""
        insert into experience_journeys (person_id, case_id, topic, last_at, resolved,
                                         succeeded_but_hurt, hurt_reasons, unresolved_age_days)
        select * from (values
            ('p_u1', 'j0', 'delivery', $now - interval 5 day, true, true, 'older', null),
            ('p_u1', 'j1', 'delivery', $now - interval 2 day, true, true, null, null),
            ('p_u3', 'j3', 'refund', $now - interval 900 day, true, true, 'waited', null),
            ('p_u3', 'j4', 'refund', $now - interval 9 day, true, true, 'waited 3 days', null),
            ('p_u4', 'j5', 'billing', $now, false, false, null, 10.0),
            ('p_u4', 'j6', 'billing', $now, false, false, null, 70.0))
    """, {"now": now})  # after their last purchases: they still hurt
    s.con.execute("insert into decision_log values ('p_u2', 'apology', 'email', 'policy', true,"
                  " $now, null), ('p_u2', 'apology', 'sms', 'policy', false, $now, null)",
                  {"now": now})  # fmt: skip
    s.con.execute("insert into profiles (person_id, preferred_channel, clv_12m) values"
                  " ('p_u1', 'call_centre', 12.5), ('p_u2', 'chat', null), ('p_u3', 'fax', 3.0)")


def _now(s: Store) -> Any:
    with DuckDBEngine(s) as eng:
        return signals.clock(eng)[0]


def _states(engine: str, session: Any = None) -> dict[str, Any]:
    policy = load_catalogue().policy
    out: dict[str, Any] = {}
    with Store(":memory:") as s:
        _states_world(s)
        now = _now(s)
        eng = connect(s, engine, session=session)  # type: ignore[arg-type]
        out["all"] = signals.person_states(s, now, policy, eng=eng)
        out["few"] = signals.person_states(s, now, policy, only=["p_u3", "p_u7", "nobody"],
                                           eng=eng)  # fmt: skip
        s.con.execute("delete from experience_journeys")  # cases from the event log
        eng.invalidate("experience_journeys")
        out["log"] = signals.person_states(s, now, policy, eng=eng)
        s.con.execute("insert into consent_ledger (consent_id, person_id, purpose, granted, source,"
                      " decided_at, recorded_at) values (1, 'p_u3', 'marketing_sms', true, 'test',"
                      " $now, $now), (2, 'p_u3', 'profiling', false, 'test', $now, $now)",
                      {"now": now})  # privacy's view from now on  # fmt: skip
        eng.invalidate("consent_ledger")
        out["ledger"] = signals.person_states(s, now, policy, eng=eng)
        eng.close()
    return out


def test_person_states_are_the_same_on_spark(spark_session: Any) -> None:
    spark, duck = _states("spark", spark_session), _states("duckdb")
    assert spark == duck
    st = duck["all"]
    assert st["p_new"]["threats"] == ["public"] and st["p_new"]["hurt_days_ago"] > 60
    assert st["p_u5"]["may_survey"] is False and "hurt_days_ago" not in st["p_u6"]
    assert st["p_u7"]["threats"] == ["leave", "legal"] and st["p_u7"]["frustration"] == 0.7
    assert st["p_u7"]["sentiment"] == 0.1
    assert st["p_u1"]["hurt_case"] == "high effort" and st["p_u1"]["contacts"] == {"email": 1, "call": 1}
    assert st["p_u3"]["hurt_case"] == "waited 3 days" and st["p_u3"]["preferred_channel"] is None
    assert st["p_u2"]["contacts"] == {"sms": 1, "email": 1} and st["p_u2"]["preferred_channel"] == "web"
    assert st["p_u1"]["clv"] == 12.5 and st["p_u4"]["unresolved_cases"] == 1
    assert st["p_u4"]["special_care"] and duck["few"]["nobody"] == {"person_id": "nobody"}
    assert duck["few"] == {**{p: st[p] for p in ("p_u3", "p_u7")}, "nobody": {"person_id": "nobody"}}
    log = duck["log"]
    assert log["p_u7"]["unresolved_topic"] == "billing" and "unresolved_cases" not in log["p_u6"]
    assert log["p_u3"]["consents"] == {"marketing_email": True, "marketing_push": True,
                                       "marketing_sms": True, "personalisation": True,
                                       "profiling": False}  # fmt: skip
    assert log["p_u6"]["consents"]["analytics"] is True
    assert duck["ledger"]["p_u3"]["consents"] == {"marketing_sms": True, "profiling": False}
    with Store(":memory:") as s:  # a plain store: DuckDB in process
        _states_world(s)
        now = _now(s)
        assert signals.person_states(s, now, load_catalogue().policy).keys() == st.keys()
