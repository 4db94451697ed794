"""``empatia stages``: the pipeline's contract as the user sees it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from empatia.cli import app
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
