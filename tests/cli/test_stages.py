"""``empatia stages``: the pipeline's contract as the user sees it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from empatia.cli import app
from empatia.errors import ConfigError
from empatia.pipeline import mermaid

runner = CliRunner()


def test_stages_lists_every_stage_in_run_order_with_its_tables() -> None:
    r = runner.invoke(app, ["stages", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    order = [row["stage"] for row in rows]
    assert order[:2] == ["identity", "privacy"] and order[-1] == "decide"
    care = next(row for row in rows if row["stage"] == "care")
    assert "experience_journeys" in care["reads"] and "care_list" in care["writes"]
    # nothing is read before the stage that writes it has run
    written = {t: row["stage"] for row in rows for t in row["writes"]}
    for i, row in enumerate(rows):
        assert all(order.index(written[t]) < i for t in row["reads"]
                   if t in written and written[t] != row["stage"])  # fmt: skip


def test_stages_draws_the_dataflow_chart() -> None:
    r = runner.invoke(app, ["stages", "--mermaid"])
    assert r.exit_code == 0 and r.output == mermaid()


def test_run_leaves_the_interpreters_collector_as_it_found_it(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # ``empatia run`` freezes what earlier stages left alive; a caller's process (a test, a
    # notebook) gets its heap back collectable, after a run and after a failed one
    import gc

    import empatia.pipeline

    monkeypatch.chdir(tmp_path)
    before = gc.get_freeze_count()
    r = runner.invoke(app, ["--db", "w.duckdb", "run", "--only", "privacy", "--only", "identity"])
    assert r.exit_code == 0, r.output
    assert gc.get_freeze_count() == before

    frozen: list[int] = []

    def broken(*_a: object, **_k: object) -> None:
        frozen.append(gc.get_freeze_count())
        raise RuntimeError("stage failed")

    monkeypatch.setattr(empatia.pipeline, "run_pipeline", broken)
    r = runner.invoke(app, ["--db", "w.duckdb", "run", "--only", "privacy"])
    assert r.exit_code != 0 and frozen[0] > before  # the stage ran with the heap frozen
    assert gc.get_freeze_count() == before


def test_run_frees_what_a_stage_dropped_before_the_next_stage(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a stage's garbage in cycles (query plans, model objects) is freed before the heap is
    # frozen for the next stage, not kept for the rest of the run
    import gc
    import weakref
    from types import SimpleNamespace

    import empatia.pipeline

    class Plan:
        pass

    dropped: list[weakref.ref[Plan]] = []
    alive_in_next_stage: list[bool] = []

    def stage(_ctx: object, names: list[str], **_k: object):  # type: ignore[no-untyped-def]
        if dropped:
            alive_in_next_stage.append(dropped[0]() is not None)
        else:
            plan = Plan()
            plan.me = plan  # type: ignore[attr-defined]  # a cycle: only the collector frees it
            dropped.append(weakref.ref(plan))
            del plan
        yield SimpleNamespace(name=names[0], seconds=0.0, figures={})

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(empatia.pipeline, "run_pipeline", stage)
    gc.disable()  # as if no automatic pass came between the stages
    try:
        r = runner.invoke(app, ["--db", "w.duckdb", "run", "--only", "identity", "--only", "privacy"])
    finally:
        gc.enable()
    assert r.exit_code == 0, r.output
    assert alive_in_next_stage == [False]


def test_run_on_an_unknown_engine_stops_before_any_stage(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a misspelt --engine is the user's mistake, said before any stage runs
    # (identity ran, or was skipped, on the default engine before the name was looked at)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["--db", "w.duckdb", "run"]).exit_code == 0
    r = runner.invoke(app, ["--db", "w.duckdb", "run", "--engine", "sparky"])
    assert isinstance(r.exception, ConfigError)  # the CLI's entry point: one line, exit 2
    assert str(r.exception) == "unknown engine 'sparky'; known: duckdb, spark"
    assert "stage identity" not in r.output
