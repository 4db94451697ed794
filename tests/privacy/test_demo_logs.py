"""A full demo run, with debug logging, writes no customer's email, phone or words to its logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd


def test_full_demo_run_logs_no_personal_data(tmp_path: Path) -> None:
    db, out = tmp_path / "demo.duckdb", tmp_path / "world"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", COLUMNS="200")
    p = subprocess.run(
        [sys.executable, "-m", "empatia.cli", "--debug", "demo", "--customers", "150",
         "--seed", "9", "--db", str(db), "--out", str(out), "--no-serve"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    logs = p.stdout + p.stderr
    assert "stage" in logs  # the pipeline ran and reported
    ids = pd.read_parquet(out / "demo_truth_identifiers.parquet")
    secrets = set(ids[ids.kind.isin(["email", "phone"])].value)
    for f in out.glob("demo_*.jsonl"):
        for line in f.read_bytes().splitlines():
            text = orjson.loads(line).get("properties", {}).get("text")
            if isinstance(text, str) and len(text) > 20:
                secrets.add(text[:40])
    assert len(secrets) > 200
    leaked = [s for s in secrets if s in logs]
    assert leaked == []
