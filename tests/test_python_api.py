"""The Python API (issue #14, #12): one ``Workspace`` runs the pipeline and hands back its
results as Arrow tables, analyses texts, exports and erases a subject — and the README's
Python example runs as written."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import empatia
from empatia.errors import NotFoundError
from empatia.ingest import import_files
from tests.privacy.conftest import ALA, BOB, world_events, write_jsonl

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """The two-person world after one ``ws.run()`` (the real pipeline, every stage)."""
    d = tmp_path_factory.mktemp("pyapi")
    with empatia.Workspace(db=d / "w.duckdb") as ws:
        import_files(ws.store, [write_jsonl(d / "w.jsonl", world_events())])
        summary = ws.run()
        ws.store.checkpoint()
    return d / "w.duckdb", summary


@pytest.fixture
def ws(ran: tuple[Path, list[dict[str, object]]], tmp_path: Path) -> Iterator[empatia.Workspace]:
    db = tmp_path / "w.duckdb"
    shutil.copy(ran[0], db)
    with empatia.Workspace(db=db) as w:
        yield w


def test_run_returns_every_stage_with_its_figures(ran: tuple[Path, list[dict[str, object]]]) -> None:
    _, summary = ran
    stages = [s["stage"] for s in summary]
    assert {"identity", "profiles", "emotion", "decide", "journeys", "care"} <= set(stages)
    assert stages.index("identity") < stages.index("profiles") < stages.index("decide")
    identity = next(s for s in summary if s["stage"] == "identity")
    assert identity["figures"]["persons"] == 2  # type: ignore[index]
    assert all(isinstance(s["seconds"], float) for s in summary)


def test_only_runs_the_named_stages(ws: empatia.Workspace) -> None:
    assert [s["stage"] for s in ws.run(only=["profiles"])] == ["profiles"]


def test_results_are_arrow_tables_one_row_per_person(ws: empatia.Workspace) -> None:
    profiles = ws.profiles()
    assert isinstance(profiles, pa.Table) and profiles.num_rows == 2
    assert set(profiles.to_pandas()["email"]) == {ALA["email"], BOB["email"]}
    emotions = ws.emotions().to_pandas().set_index("person_id")
    ala = ws.profile(ALA["user_id"])["person_id"]
    assert emotions.loc[ala, "n_negative"] == 1  # her parcel came broken, the third time
    decisions = ws.decisions().to_pandas().set_index("person_id")
    assert decisions.loc[ala, "kind"] == "recovery"
    assert ala in set(ws.journeys().column("person_id").to_pylist())


def test_the_care_list_is_a_table_even_when_empty(ws: empatia.Workspace) -> None:
    care = ws.care_list(limit=5)
    assert isinstance(care, pa.Table) and care.num_rows <= 5
    assert {"person_id", "score", "explanation", "text_visible"} <= set(care.column_names)


def test_a_table_before_its_stage_ran_says_what_to_do(tmp_path: Path) -> None:
    with empatia.Workspace(db=tmp_path / "new.duckdb") as fresh:
        with pytest.raises(NotFoundError, match="ws.run"):
            fresh.emotions()


def test_analyze_reads_feelings_and_stores_nothing(ws: empatia.Workspace) -> None:
    before = ws.store.con.execute("select count(*) from text_analysis").fetchone()
    [verdict] = ws.analyze(["I called seven times and nobody answers, this is a disgrace!"])
    assert verdict["sentiment"] == "negative" and verdict["effort"]
    assert ws.store.con.execute("select count(*) from text_analysis").fetchone() == before


def test_export_then_erase_a_subject(ws: empatia.Workspace) -> None:
    exported = ws.export_subject(f"email:{ALA['email']}")
    assert {"kind": "email", "value": ALA["email"]} in exported["identifiers"]
    dry = ws.erase(f"email:{ALA['email']}", dry_run=True)
    assert dry["dry_run"] and dry["deleted"]["events"] == 4  # type: ignore[index]
    assert ws.profile(ALA["user_id"])["person_id"]  # a dry run changes nothing
    done = ws.erase(f"email:{ALA['email']}")
    assert done["deleted"] == dry["deleted"]
    with pytest.raises(NotFoundError):
        ws.profile(ALA["user_id"])
    assert ws.profiles().num_rows == 1


def test_the_readme_python_example_runs(ws: empatia.Workspace) -> None:
    block = next(b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S)
                 if "empatia.Workspace" in b)  # fmt: skip
    code = block.replace('"shop.duckdb"', repr(str(ws.settings.db))).replace("ada@example.com", ALA["email"])
    ws.close()  # the example opens the store itself
    names: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), names)  # noqa: S102
    example = names["ws"]
    assert isinstance(example, empatia.Workspace) and example.profiles().num_rows == 2
    example.close()
