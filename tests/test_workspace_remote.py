"""While ``empatia serve`` owns the store, the Workspace's methods and every CLI command that
changes the store go through the server (``POST /admin/workspace/{method}``): the README's
Python example and the commands work unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pytest

import empatia
from empatia.ingest import import_files
from empatia.remote import server_info_path
from empatia.store import Store
from empatia.workspace import Workspace
from tests.conftest import ServerProcess

TEXTS = [
    "Dzwoniłem siedem razy i nikt nie odbiera! Nadal czekam na zwrot pieniędzy.",
    "The parcel arrived broken and nobody answers the phone, I am furious.",
    "Great service, the guitar sounds wonderful, thank you!",
    "Parking at the store is impossible, no spaces at all again.",
    "Bardzo miła obsługa w sklepie, polecam.",
    "The app crashes every time I try to pay, useless.",
]


def _event(kind: str, user: str | None, anon: str | None, n: int, **more: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"type": kind, "messageId": f"m{n}",
                         "timestamp": f"2026-01-{1 + n % 27:02d}T10:00:00Z", **more}  # fmt: skip
    if user:
        e["userId"] = user
    if anon:
        e["anonymousId"] = anon
    return e


def _events() -> list[dict[str, Any]]:
    people = [("ala", "a1", "ada@example.com", "Ada"), ("bob", "b1", "bob@example.com", "Bob"),
              ("cara", "c1", "cara@example.com", "Cara")]  # fmt: skip
    out: list[dict[str, Any]] = []
    for user, anon, email, name in people:
        out.append(_event("identify", user, anon, len(out),
                          traits={"email": email, "first_name": name}))  # fmt: skip
        out.append(_event("track", None, anon, len(out), event="Product Viewed",
                          properties={"product_id": "P1"}))  # fmt: skip
        out.append(_event("track", user, None, len(out), event="Order Completed",
                          properties={"order_id": f"O-{user}", "total": 120.0, "currency": "PLN"}))  # fmt: skip
    for i, text in enumerate(TEXTS):
        user = people[i % 3][0]
        out.append(_event("track", user, None, len(out), event="Support Ticket",
                          properties={"text": text}))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A small shop, built and run here, then served: Ada and Bob merged by a shared tablet,
    Cara with a review pair waiting."""
    folder = tmp_path_factory.mktemp("remote")
    db = folder / "shop.duckdb"
    first, second = folder / "first.jsonl", folder / "second.jsonl"
    first.write_bytes(b"\n".join(orjson.dumps(e) for e in _events()))
    # a shared tablet: Bob's anonymous id shows up with Ada's login
    second.write_bytes(orjson.dumps(_event("track", "ala", "b1", 99, event="Signed In")))
    with Workspace(db=db) as ws:
        import_files(ws.store, [first])
        ws.run()
        import_files(ws.store, [second])
        ws.run(only=["identity", "profiles"])
        ws.store.con.execute(
            "insert into identity_review values ('email', 'cara@example.com', 'email',"
            " 'dan@example.com', 0.7, null, null)"
        )
    srv = ServerProcess(db).start(timeout=180)  # a busy machine starts it slowly
    try:
        yield srv
    finally:
        srv.stop()


def empatia_cli(srv: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, EMPATIA_DB=str(srv.db), COLUMNS="250")
    p = subprocess.run([sys.executable, "-m", "empatia.cli", *args], capture_output=True,
                       text=True, env=env, timeout=300)  # fmt: skip
    assert "owns this store" not in p.stderr and "stop the server" not in p.stderr, p.stderr
    return p


def admin(srv: ServerProcess) -> httpx.Client:
    """The server's own local admin secret, as the CLI reads it."""
    token = json.loads(server_info_path(srv.db).read_text())["token"]
    return httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def person(srv: ServerProcess, identifier: str) -> str:
    p = empatia_cli(srv, "profile", identifier, "--json")
    assert p.returncode == 0, p.stderr
    return str(json.loads(p.stdout)["person_id"])


# -- (a) the commands that change the store ------------------------------------------------
def test_identity_decide(served: ServerProcess) -> None:
    p = empatia_cli(served, "identity", "decide", "email:cara@example.com", "email:dan@example.com",
                    "--reject")  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "rejected; applied by the next `empatia run`" in p.stdout
    with admin(served) as c:
        assert c.get("/v1/identity/review").json() == []  # decided: no longer waiting
    p = empatia_cli(served, "identity", "decide", "email:x@example.com", "email:y@example.com",
                    "--accept")  # fmt: skip
    assert p.returncode == 2 and "no review pair" in p.stderr


def test_identity_unmerge(served: ServerProcess) -> None:
    assert person(served, "email:bob@example.com") == person(served, "email:ada@example.com")
    with admin(served) as c:
        merges = [h for h in c.get("/v1/identity/history").json() if h["action"] == "merge"]
    assert merges
    p = empatia_cli(served, "identity", "unmerge", merges[0]["merge_id"])
    assert p.returncode == 0, p.stderr
    assert "unmerged;" in p.stdout and "profiles refreshed" in p.stdout
    assert person(served, "email:bob@example.com") != person(served, "email:ada@example.com")


def test_identity_split(served: ServerProcess) -> None:
    cara = person(served, "user_id:cara")
    p = empatia_cli(served, "identity", "split", "email:cara@example.com")
    assert p.returncode == 0, p.stderr
    new = re.search(r"new person (\S+);", p.stdout)
    assert new and new.group(1) != cara
    assert person(served, "email:cara@example.com") == new.group(1)
    assert person(served, "user_id:cara") == cara


def test_journeys_stages_set(served: ServerProcess) -> None:
    p = empatia_cli(served, "journeys", "stages", "set", "Trial Started", "consider")
    assert p.returncode == 0, p.stderr
    assert "Trial Started → consider" in p.stdout
    p = empatia_cli(served, "journeys", "stages", "list")
    assert re.search(r"Trial Started\s+│\s+consider", p.stdout), p.stdout
    p = empatia_cli(served, "journeys", "stages", "set", "Trial Started", "nowhere")
    assert p.returncode != 0 and "nowhere" in p.stderr and "Traceback" not in p.stderr


def test_emotion_settings(served: ServerProcess, tmp_path: Path) -> None:
    p = empatia_cli(served, "emotion", "use", "fast", "--model-dir", str(tmp_path))
    assert p.returncode == 0 and "emotion analyzer: fast" in p.stdout, p.stderr
    p = empatia_cli(served, "emotion", "redact", "on")
    assert p.returncode == 0 and "redaction before emotion analysis: on" in p.stdout, p.stderr
    themes = tmp_path / "themes.json"
    themes.write_text(json.dumps({"parking": ["no parking", "brak miejsc"]}))
    p = empatia_cli(served, "emotion", "themes-set", str(themes))
    assert p.returncode == 0 and "1 theme(s) set" in p.stdout, p.stderr
    p = empatia_cli(served, "emotion", "reanalyze", "--stale-only")  # encoder's are stale now
    assert p.returncode == 0, p.stderr
    assert f"'dropped': {len(TEXTS)}" in p.stdout, p.stdout
    p = empatia_cli(served, "emotion", "discover", "--k", "2")
    assert p.returncode == 0, p.stderr


def test_decide_all(served: ServerProcess, tmp_path: Path) -> None:
    out = tmp_path / "decisions.csv"
    p = empatia_cli(served, "decide", "--all", "--export", str(out))
    assert p.returncode == 0, p.stderr
    assert "decide --all" in p.stdout and "decisions" in p.stdout
    with Workspace(db=served.db) as ws:  # closing it closes its client's connection
        assert len(out.read_text().splitlines()) == 1 + len(ws.decisions())
    bad = tmp_path / "actions.toml"
    bad.write_text("this is [not toml")
    p = empatia_cli(served, "decide", "--all", "--actions", str(bad))
    assert p.returncode == 2 and str(bad) in p.stderr and "Traceback" not in p.stderr


def test_rates(served: ServerProcess, tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,rate\n2026-01-01,PLN,4.27\n2026-01-05,PLN,4.30\n")
    p = empatia_cli(served, "rates", "import", str(rates))
    assert p.returncode == 0, p.stderr
    assert "2 rates per 1 EUR for PLN, 2026-01-01 to 2026-01-05" in p.stdout
    p = empatia_cli(served, "rates", "list", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)[0] | {"from": None} == {
        "base": "EUR", "currency": "PLN", "days": 2, "from": None, "to": "2026-01-05",
        "latest": 4.3,
    }  # fmt: skip
    rates.write_text("day,currency\n")
    p = empatia_cli(served, "rates", "import", str(rates))
    assert p.returncode == 2 and "rates.csv: the header must be" in p.stderr


# -- (b) the README's Python example -------------------------------------------------------
def test_the_readme_python_example_works_while_the_server_runs(served: ServerProcess) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = re.search(r"```python\n(import empatia\n.*?)```", readme, flags=re.S)
    assert example is not None
    code = example.group(1).replace('db="shop.duckdb"', f"db={str(served.db)!r}")
    assert str(served.db) in code
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
    ws = scope["ws"]
    assert isinstance(ws, empatia.Workspace) and ws._remote is not None  # through the server
    assert served.proc is not None and served.proc.poll() is None
    stages = [r["stage"] for r in ws.run(only=["identity", "profiles"])]
    assert stages == ["identity", "profiles"]
    ada = ws.profile("email:ada@example.com")
    assert {"kind": "email", "value": "ada@example.com"} in [
        {"kind": i["kind"], "value": i["value"]} for i in ada["identifiers"]
    ]
    people = ws.profiles().to_pandas()
    assert ada["person_id"] in set(people["person_id"]) and len(people) >= 2
    assert isinstance(ws.care_list(limit=20), pa.Table)
    assert isinstance(ws.decisions(), pa.Table) and isinstance(ws.emotions(), pa.Table)
    assert ws.analyze(["Dzwoniłem siedem razy i nikt nie odbiera!"])[0]["sentiment"] == "negative"
    export = ws.export_subject("email:ada@example.com")
    assert export["person_id"] == ada["person_id"] and export["tables"]
    dry = ws.erase(ada["person_id"], dry_run=True)
    assert dry["deleted"]["events"] > 0
    assert ws.profile("email:ada@example.com")["person_id"] == ada["person_id"]  # still there
    with pytest.raises(empatia.errors.NotFoundError):  # the library's own error, as locally
        ws.profile("email:nobody@example.com")
    ws.close()


# -- afterwards: the changes are in the store ------------------------------------------------
def test_the_changes_are_in_the_store_once_the_server_stops(served: ServerProcess) -> None:
    served.stop()
    with Store(served.db) as s:
        config = dict(s.con.execute("select key, value from emotion_config").fetchall())
        stage = s.con.execute(
            "select stage from journey_stage_map where pattern = 'Trial Started'"
        ).fetchall()
        review = s.con.execute(
            "select status from identity_decisions where value_r = 'dan@example.com'"
        ).fetchall()
        rates = s.con.execute("select count(*) from exchange_rates").fetchone()
    assert config["analyzer"] == "fast" and config["redact"] == "on"
    assert config["model_dir"] and "parking" in config["themes"]
    assert stage == [("consider",)] and review == [("rejected",)] and rates == (2,)
