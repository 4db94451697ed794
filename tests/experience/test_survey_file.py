"""Survey answers imported from a file (CSV through the batch importer) count like live ones."""

from __future__ import annotations

from pathlib import Path

from empatia import experience
from empatia.ingest.importer import import_file
from empatia.workspace import Workspace
from tests.experience.conftest import run_stages

CSV = """type,event,userId,timestamp,survey,score,touchpoint,duration_seconds,comment
track,Survey Answered,u1,2026-05-01T10:00:00Z,csat,5,store,40,
track,Survey Answered,u2,2026-05-02T10:00:00Z,csat,4,store,35,Nice staff
track,Survey Answered,u3,2026-05-03T10:00:00Z,csat,2,store,50,Queue too long
track,Survey Answered,u4,2026-05-03T11:00:00Z,csat,9,store,50,out of the scale
"""


def test_csat_from_a_csv_file(tmp_path: Path) -> None:
    f = tmp_path / "csat.csv"
    f.write_text(CSV)
    ws = Workspace(db=tmp_path / "s.duckdb")
    assert import_file(ws.store, f).accepted == 4
    ws.store.con.execute("insert into event_persons select seq, user_id from events")
    run_stages(ws, "experience")
    (row,) = experience.survey_scores(ws.store.con, survey="csat", by="touchpoint")
    assert row["touchpoint"] == "store" and row["n"] == 3  # the 9 on a 1–5 scale is not an answer
    assert abs(row["score"] - 200 / 3) < 1e-9 and row["ci_low"] < row["score"] < row["ci_high"]
    ws.close()
