"""The runner orders stages by their dependencies and passes settings' stage options."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pytest

from empatia.errors import ConfigError
from empatia.pipeline import (
    BOOKKEEPING,
    RunContext,
    ordered_stages,
    read_tables,
    registered_stages,
    run_pipeline,
    writers,
)
from empatia.workspace import Workspace


def test_stages_run_after_the_stages_that_write_what_they_read() -> None:
    stages = registered_stages()
    order = [s.name for s in ordered_stages()]
    assert set(order) == set(stages) and order[0] == "identity"
    wrote = writers(stages)
    for stage in stages.values():
        for table in stage.reads:
            if table in wrote and wrote[table] != stage.name:
                assert order.index(wrote[table]) < order.index(stage.name), (table, stage.name)
    # privacy erases a person's rows everywhere: it runs before every stage but its inputs
    assert order.index("privacy") == 1


def test_unknown_stage_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown stage"):
        ordered_stages(["no-such-stage"])


class _Probe:
    name, reads, writes = "probe", ("events",), ("probe_out",)

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)
        self.seen: dict[str, Any] = {}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        self.seen.update(threshold=ctx.stages.identity.match_threshold,
                         export=ctx.stages.decide.export, master=ctx.master)  # fmt: skip
        return {"ok": 1}


def test_conflicting_or_circular_declarations_are_errors() -> None:
    a = _Probe(name="a", reads=("t_b",), writes=("t_a",))
    b = _Probe(name="b", reads=("t_a",), writes=("t_b",))
    with pytest.raises(ConfigError, match="cycle: a -> b -> a|cycle: b -> a -> b"):
        ordered_stages(stages={"a": a, "b": b})
    c = _Probe(name="c", reads=(), writes=("t_a",))
    with pytest.raises(ConfigError, match="'t_a' is written by two stages: a and c"):
        ordered_stages(stages={"a": _Probe(name="a", reads=(), writes=("t_a",)), "c": c})


def test_stage_settings_reach_the_stage_and_a_run_changes_them() -> None:
    probe = _Probe()
    ws = Workspace(db=":memory:", stages={"identity": {"match_threshold": 0.9}})
    ctx = RunContext(ws, settings={"decide": {"export": "d.parquet"}}, master="local[1]")
    [result] = run_pipeline(ctx, stages={"probe": probe})
    assert result.figures == {"ok": 1}
    assert probe.seen == {"threshold": 0.9, "export": Path("d.parquet"), "master": "local[1]"}
    assert "probe" not in registered_stages()  # a test's stage never joins the registry


def test_a_misspelt_stage_or_setting_is_an_error_not_ignored() -> None:
    with pytest.raises(ConfigError, match="stages.identty"):
        Workspace(db=":memory:", stages={"identty": {"match_threshold": 0.9}})
    with pytest.raises(ConfigError, match=r"stages.decide.exprt: Extra inputs"):
        RunContext(Workspace(db=":memory:"), settings={"decide": {"exprt": "d.parquet"}})
    with pytest.raises(ConfigError, match="unknown engine 'sparky'; known: duckdb, spark"):
        RunContext(Workspace(db=":memory:"), engine="sparky")


# -- incremental runs (issue #14, finding #7) ------------------------------------------------
OPTS = {"emotion": {"analyzer": "fast", "themes": False}, "care": {"deliver": False}}
#: Every stage's output tables (what a user sees change).
OUTPUTS = ("identities", "event_persons", "profiles", "profile_traits", "text_analysis",
           "person_emotion", "experience_journeys", "survey_responses", "journeys", "care_list",
           "decide_inputs", "decisions")  # fmt: skip


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo world, imported and run through the whole pipeline once."""
    from empatia.demo import build_world, import_world

    d = tmp_path_factory.mktemp("incremental")
    world = build_world(d / "world", customers=100, seed=5)
    db = d / "template.duckdb"
    with Workspace(db=db) as ws:
        import_world(ws.store, world)
        run_pipeline(RunContext(ws, settings=dict(OPTS)))
        ws.store.checkpoint()
    return db


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Any:
    db = tmp_path / "copy.duckdb"
    shutil.copy(template, db)
    with Workspace(db=db) as w:
        yield w


def _snapshot(ws: Workspace) -> dict[str, str]:
    con = ws.store.con
    return {
        t: con.execute(f"select count(*) || ':' || coalesce(md5(string_agg(x::varchar, '|'"
                       f" order by x::varchar)), '') from {t} x").fetchone()[0]  # fmt: skip
        for t in OUTPUTS
    }


def _import(ws: Workspace, tmp_path: Path, events: list[dict[str, Any]]) -> None:
    from empatia.ingest import import_files

    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    path = tmp_path / "new.jsonl"
    path.write_text("".join(json.dumps({"timestamp": now, **e}) + "\n" for e in events))
    import_files(ws.store, [path])


def _known_user(ws: Workspace) -> tuple[str, str]:
    row = ws.store.con.execute(
        "select i.value, i.person_id from identities i join decide_inputs d using (person_id)"
        " where i.kind = 'user_id' and not d.cold_start order by 1 limit 1"
    ).fetchone()
    assert row
    return row[0], row[1]


def test_a_run_with_nothing_new_skips_every_stage_and_changes_no_table(ws: Workspace) -> None:
    before = _snapshot(ws)
    results = run_pipeline(RunContext(ws, settings=dict(OPTS)))
    ran = {r.name for r in results if not r.skipped}
    assert ran == {"privacy"}  # retention depends on the date: it always looks
    assert all(r.figures == {"skipped": "inputs unchanged"} for r in results if r.skipped)
    assert _snapshot(ws) == before


def test_a_few_new_events_update_the_changed_people_without_retraining(
    ws: Workspace, tmp_path: Path
) -> None:
    user, person = _known_user(ws)
    trained = ws.store.con.execute("select count(*) from decide_runs").fetchone()
    _import(ws, tmp_path, [
        {"type": "track", "event": "Order Completed", "userId": user, "messageId": "inc-1",
         "properties": {"order_id": "INC-1", "total": 10.0, "currency": "EUR"}},
        {"type": "identify", "userId": "inc-new-user", "messageId": "inc-2",
         "traits": {"email": "inc.new@example.com"}},
        {"type": "track", "event": "Message Sent", "userId": "inc-new-user", "messageId": "inc-3",
         "properties": {"text": "Where is my parcel? Nobody answers my calls."}},
    ])  # fmt: skip
    results = {r.name: r for r in run_pipeline(RunContext(ws, settings=dict(OPTS)))}
    assert results["identity"].figures["mode"] == "incremental"
    assert results["decide"].figures["retrained"] == "no"
    assert ws.store.con.execute("select count(*) from decide_runs").fetchone() == trained
    con = ws.store.con
    new = con.execute("select person_id from identities where kind = 'user_id'"
                      " and value = 'inc-new-user'").fetchone()  # fmt: skip
    assert new is not None
    # the new person has a profile, an analysed text and a decision; the buyer's order counts
    assert con.execute("select count(*) from profiles where person_id = ?", new).fetchone() == (1,)
    assert con.execute("select count(*) from decisions where person_id = ?", new).fetchone() == (1,)
    assert con.execute("select count(*) from text_analysis t join event_persons e using (seq)"
                       " where e.person_id = ?", new).fetchone() == (1,)  # fmt: skip
    decided = con.execute("select state from decide_inputs where person_id = ?", [person]).fetchone()
    assert decided and json.loads(decided[0]).get("hours_since_purchase") is not None
    assert con.execute("select count(*) from decisions").fetchone() == con.execute(
        "select count(distinct person_id) from decide_inputs").fetchone()  # fmt: skip


def test_decide_retrains_when_enough_orders_arrived(ws: Workspace, tmp_path: Path) -> None:
    user, _ = _known_user(ws)
    _import(ws, tmp_path, [
        {"type": "track", "event": "Order Completed", "userId": user, "messageId": f"inc-o{i}",
         "properties": {"order_id": f"INC-O{i}", "total": 5.0, "currency": "EUR"}}
        for i in range(3)
    ])  # fmt: skip
    opts = {**OPTS, "decide": {"retrain_orders": 3}}
    results = {r.name: r for r in run_pipeline(RunContext(ws, settings=opts))}
    assert results["decide"].figures["retrained"] == "3 new orders"


# -- the stage contract (issue #16): a stage reads only what it declares, writes only its own --
def _tables(con: Any) -> dict[str, str]:
    rows = con.execute("select table_name from duckdb_tables() where not internal and not temporary").fetchall()
    return {t: con.execute(f'select count(*) || \':\' || coalesce(bit_xor(hash(x)), 0) from "{t}" x')
            .fetchone()[0] for (t,) in rows}  # fmt: skip


def _run_alone(name: str, db: Path, keep: Callable[[Any], set[str]] | None) -> tuple[dict[str, str], dict[str, str]]:
    """Run stage ``name`` (full) on ``db``, first dropping the tables ``keep`` leaves out;
    the tables (name → count:hash) before and after."""
    with Workspace(db=db) as ws:
        con = ws.store.con
        if keep is not None:
            for table in set(_tables(con)) - keep(con) - {"schema_migrations"}:
                con.execute(f'drop table "{table}"')
        before = _tables(con)
        run_pipeline(RunContext(ws, settings=dict(OPTS), full=True), only=[name])
        return before, _tables(con)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(registered_stages()))
def test_a_stage_runs_on_only_the_tables_it_declares_and_changes_only_its_own(
    name: str, template: Path, tmp_path: Path
) -> None:
    stage = registered_stages()[name]
    shutil.copy(template, tmp_path / "all.duckdb")
    shutil.copy(template, tmp_path / "alone.duckdb")
    _, with_all = _run_alone(name, tmp_path / "all.duckdb", None)
    declared = set(stage.reads) | set(stage.writes) | set(BOOKKEEPING)
    before, after = _run_alone(name, tmp_path / "alone.duckdb",
                               lambda con: read_tables(con, declared))  # fmt: skip
    changed = {t for t in after if after[t] != before.get(t)} - set(BOOKKEEPING)
    assert changed <= set(stage.writes) | (set(after) if getattr(stage, "erases", ()) else set())
    # the same rows as with every table there: nothing it read silently went missing
    counts = {t: after[t].split(":")[0] for t in set(stage.writes) & set(after)}
    assert counts == {t: with_all[t].split(":")[0] for t in counts}


def test_the_architecture_document_shows_the_dataflow_the_stages_declare() -> None:
    from empatia.pipeline import mermaid

    doc = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    assert f"```mermaid\n{mermaid()}```" in doc
    for stage in ordered_stages():
        assert f"| `{stage.name}` | {', '.join(f'`{t}`' for t in stage.reads)} |" in doc
