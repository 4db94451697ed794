"""`empatia import`: JSONL, CSV and Parquet; rejects with reasons; importing twice stores once."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from empatia.cli import app
from empatia.errors import ValidationError
from empatia.ingest import import_files
from empatia.store import Store


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_import_rejects_bad_lines_with_line_and_reason(store: Store, tmp_path: Path) -> None:
    f = _jsonl(tmp_path / "ev.jsonl", [
        {"type": "track", "event": "Order Completed", "userId": "u1", "properties": {"total": 3}},
        "{not json",
        {"type": "track", "event": "X"},
        {"type": "identify", "anonymousId": "a1", "traits": {"email": "x@y.z"}},
        {"type": "launch", "userId": "u1"},
    ])  # fmt: skip
    report = import_files(store, [f])
    assert (report.accepted, report.rejected, report.duplicates) == (2, 3, 0)
    rejects = [json.loads(line) for line in Path(report.files[0].reject_file).read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "malformed JSON"),
        (3, "missing both userId and anonymousId"),
        (5, 'type "launch" (one of track, identify, page, screen, group, alias)'),
    ]
    assert all("event" not in r for r in rejects)  # no payload: it may hold personal data


def test_importing_the_same_file_twice_stores_nothing_twice(store: Store, tmp_path: Path) -> None:
    f = _jsonl(tmp_path / "ev.jsonl", [{"type": "page", "anonymousId": f"a{i}"} for i in range(30)])
    assert import_files(store, [f]).accepted == 30
    again = import_files(store, [f])
    assert (again.accepted, again.duplicates) == (0, 30)
    assert store.con.execute("select count(*) from events").fetchone() == (30,)


def test_gzip_csv_and_parquet_map_columns_onto_the_spec(store: Store, tmp_path: Path) -> None:
    gz = tmp_path / "ev.jsonl.gz"
    gz.write_bytes(gzip.compress(json.dumps({"type": "track", "event": "G", "userId": "g"}).encode()))
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "type,event,userId,timestamp,properties.total,store_id\n"
        "track,Order Completed,u1,2026-03-01T10:00:00Z,19.5,S1\n"
        "identify,,u2,2026-03-01T11:00:00Z,,S2\n"
    )
    pq_path = tmp_path / "crm.parquet"
    pq.write_table(pa.table({"type": ["identify"], "userId": ["u3"],
                             "traits.email": ["c@d.e"], "tier": ["gold"]}), pq_path)  # fmt: skip
    report = import_files(store, [gz, csv, pq_path])
    assert report.rejected == 0 and report.accepted == 4
    raw = dict(store.con.execute("select user_id, raw from events").fetchall())
    order = json.loads(raw["u1"])
    assert order["event"] == "Order Completed" and order["properties"] == {"total": 19.5, "store_id": "S1"}
    assert json.loads(raw["u2"])["traits"]["store_id"] == "S2"  # identify: loose columns are traits
    crm = json.loads(raw["u3"])
    assert crm["traits"] == {"email": "c@d.e", "tier": "gold"}


def test_unknown_file_type_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "events.xml"
    f.write_text("<e/>")
    with pytest.raises(ValidationError, match="unknown file type"):
        import_files(store, [f])


def test_cli_import_prints_a_summary_and_fails_on_rejects(db_path: Path, tmp_path: Path) -> None:
    good = _jsonl(tmp_path / "good.jsonl", [{"type": "page", "anonymousId": "a"}])
    r = CliRunner().invoke(app, ["--db", str(db_path), "import", str(good)])
    assert r.exit_code == 0 and "1 stored" in r.output
    bad = _jsonl(tmp_path / "bad.jsonl", [{"type": "page"}])
    r = CliRunner().invoke(app, ["--db", str(db_path), "import", str(bad)])
    assert r.exit_code == 1 and "1 rejected" in r.output
    assert (tmp_path / "bad.jsonl.rejects.jsonl").exists()


def test_events_of_an_erased_person_are_dropped_on_import(store: Store, tmp_path: Path) -> None:
    from empatia.privacy import tombstones

    tombstones.add(store, [("user_id", "gone")])
    f = _jsonl(tmp_path / "late.jsonl", [{"type": "track", "event": "E", "userId": "gone"},
                                         {"type": "track", "event": "E", "userId": "kept"}])  # fmt: skip
    report = import_files(store, [f])
    assert (report.accepted, report.erased, report.duplicates) == (1, 1, 0)
    assert store.con.execute("select user_id from events").fetchall() == [("kept",)]
