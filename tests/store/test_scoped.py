"""A stage's outputs land together or not at all, and a stage writes only what it declares."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from empatia.pipeline import RunContext, run_pipeline
from empatia.store.scoped import StageContractError, _targets
from empatia.workspace import Workspace


class _Writer:
    """Writes ``n`` rows into each of its two tables, then does whatever ``then`` says."""

    name, reads = "writer", ("events",)
    writes = ("out_a", "out_b")

    def __init__(self, n: int, then: str = "") -> None:
        self.n, self.then = n, then
        self.sent: list[int] = []

    def run(self, ctx: RunContext) -> dict[str, Any]:
        con = ctx.store.con
        for table in self.writes:
            con.execute(f"delete from {table}")
            con.execute(f"insert into {table} select range from range({self.n})")
            if self.then == "fail-between":
                raise RuntimeError("half-way")
        ctx.after_commit(lambda: self.sent.append(self.n))
        if self.then == "undeclared":
            con.execute("insert into events_archive values (1)")
        if self.then == "own-transaction":  # a stage's begin/commit joins the stage's
            con.execute("begin transaction")
            con.execute("delete from out_b")
            con.execute("commit")
        return {"rows": self.n}


@pytest.fixture()
def ws(tmp_path: Path) -> Any:
    w = Workspace(db=str(tmp_path / "s.duckdb"))
    for t in ("out_a", "out_b", "events_archive"):
        w.store.con.execute(f"create table {t} (x bigint)")
    yield w
    w.close()


def _rows(ws: Workspace, table: str) -> int:
    row = ws.store.con.execute(f"select count(*) from {table}").fetchone()
    return int(row[0]) if row else 0


def _run(ws: Workspace, stage: _Writer) -> None:
    run_pipeline(RunContext(ws, full=True), stages={"writer": stage})


def test_a_stage_that_fails_half_way_leaves_every_output_as_it_was(ws: Workspace) -> None:
    _run(ws, _Writer(3))
    state = ws.store.con.execute("select * from pipeline_state").fetchall()
    failing = _Writer(10, "fail-between")
    with pytest.raises(RuntimeError, match="half-way"):
        _run(ws, failing)
    assert (_rows(ws, "out_a"), _rows(ws, "out_b")) == (3, 3)  # not 10 and 3
    assert ws.store.con.execute("select * from pipeline_state").fetchall() == state
    assert failing.sent == []  # nothing that waits for the commit ran
    _run(ws, _Writer(5))  # and the next run works
    assert (_rows(ws, "out_a"), _rows(ws, "out_b")) == (5, 5)


def test_writing_an_undeclared_table_is_refused_and_nothing_lands(ws: Workspace) -> None:
    _run(ws, _Writer(3))
    stage = _Writer(7, "undeclared")
    with pytest.raises(StageContractError, match="writer writes table 'events_archive'"):
        _run(ws, stage)
    assert (_rows(ws, "out_a"), _rows(ws, "events_archive")) == (3, 0)
    assert stage.sent == []


def test_a_stages_own_transactions_join_the_stage_and_work_after_commit_runs(
    ws: Workspace,
) -> None:
    stage = _Writer(4, "own-transaction")
    _run(ws, stage)
    assert (_rows(ws, "out_a"), _rows(ws, "out_b"), stage.sent) == (4, 0, [4])


def test_a_lock_the_stage_takes_is_held_until_its_outputs_commit(ws: Workspace) -> None:
    seen: list[bool] = []

    class Locker(_Writer):
        def run(self, ctx: RunContext) -> dict[str, Any]:
            with ctx.store.write_lock:  # e.g. identity's batch resolution
                ctx.store.con.execute("insert into out_a values (1)")
            other = threading.Thread(  # another thread (the live path) must wait
                target=lambda: seen.append(ws.store.write_lock.acquire(timeout=0.2))
            )
            other.start()
            other.join()
            return {}

    _run(ws, Locker(0))
    assert seen == [False]
    assert ws.store.write_lock.acquire(timeout=1)  # released at the commit
    ws.store.write_lock.release()


_KILLED = textwrap.dedent(
    """
    import sys, time
    from empatia.pipeline import RunContext, run_pipeline
    from empatia.workspace import Workspace

    class Slow:
        name, reads, writes = "writer", ("events",), ("out_a", "out_b")
        def run(self, ctx):
            ctx.store.con.execute("delete from out_a")
            ctx.store.con.execute("insert into out_a select range from range(1000)")
            print("written", flush=True)
            time.sleep(60)
            return {}

    ws = Workspace(db=sys.argv[1])
    run_pipeline(RunContext(ws, full=True), stages={"writer": Slow()})
    """
)


def test_kill_9_mid_stage_keeps_the_previous_outputs(ws: Workspace, tmp_path: Path) -> None:
    _run(ws, _Writer(3))
    path = ws.store.path
    ws.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED, path], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    again = Workspace(db=path)
    try:
        assert (_rows(again, "out_a"), _rows(again, "out_b")) == (3, 3)
    finally:
        again.close()


@pytest.mark.parametrize(
    ("sql", "targets"),
    [
        ("insert into t by name select * from u", (("t", False),)),
        ("insert or replace into pipeline_state values (?, ?)", (("pipeline_state", False),)),
        ('delete from "main"."t" where x in (select unnest(?::int[]))', (("t", False),)),
        ("create or replace temp table _x as select ?::int[]", (("_x", True),)),
        ("drop table if exists temp._x", (("_x", True),)),
        ("update t set a = 1 where b = ?", (("t", False),)),
        ("with c as (select 1) select * from c join t using (a)", ()),
    ],
)
def test_what_a_statement_writes_is_read_from_it(sql: str, targets: tuple[Any, ...]) -> None:
    assert _targets(sql) == targets


@given(st.text(max_size=80))
def test_any_text_is_classified_without_an_exception(sql: str) -> None:
    out = _targets(sql)
    assert out is None or all(isinstance(n, str) and isinstance(t, bool) for n, t in out)
