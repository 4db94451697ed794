"""``POST /admin/workspace/{method}``: only an admin key, only the registered methods, only
their arguments; answers as the method answers (Arrow tables as an Arrow stream)."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.workspace import THROUGH_SERVER, Workspace

from .conftest import bearer, make_keys


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    ws = Workspace(db=tmp_path_factory.mktemp("ws") / "shop.duckdb")
    keys = make_keys(ws)
    with TestClient(create_app(ws)) as client:
        yield client, keys
    ws.close()


def call(served: tuple[TestClient, dict[str, str]], method: str, body: object = None,
         scope: str = "admin", **kw: object):  # type: ignore[no-untyped-def]  # fmt: skip
    client, keys = served
    headers = bearer(keys[scope]) if scope else {}
    return client.post(f"/admin/workspace/{method}", json=body, headers=headers, **kw)


@pytest.mark.parametrize("scope", ["", "write", "read", "care"])
def test_only_an_admin_key_may_call(served: tuple[TestClient, dict[str, str]], scope: str) -> None:
    r = call(served, "set_journey_stage", {"event": "Trial Started", "stage": "consider"}, scope)
    assert r.status_code in (401, 403), r.text
    r = call(served, "profiles", {}, scope)
    assert r.status_code in (401, 403), r.text


@pytest.mark.parametrize(
    "method", ["close", "_table", "_arrow", "store", "settings", "__init__", "_server", "nonsense"]
)
def test_only_registered_methods_are_callable(
    served: tuple[TestClient, dict[str, str]], method: str
) -> None:
    r = call(served, method, {})
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "not_found" and method in r.json()["message"]


@pytest.mark.parametrize(
    ("method", "body", "says"),
    [
        ("split", {}, "missing argument 'identifiers'"),
        ("split", {"identifiers": "user_id:u1", "extra": 1}, "no argument 'extra'"),
        ("set_journey_stage", {"event": 5, "stage": "consider"}, "argument 'event'"),
        ("run", {"only": "identity"}, "argument 'only'"),
        ("run", {"only": ["nonsense"]}, "nonsense"),
        ("decide_all", {"progress": "x"}, "no argument 'progress'"),  # a local-only argument
        ("profiles", [1, 2], "JSON object"),
    ],
)
def test_wrong_arguments_are_400_in_one_line(
    served: tuple[TestClient, dict[str, str]], method: str, body: object, says: str
) -> None:
    r = call(served, method, body)
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert says in message and "\n" not in message


def test_a_body_that_is_no_json_is_400(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served
    r = client.post("/admin/workspace/profiles", content=b"{nope", headers=bearer(keys["admin"]))
    assert r.status_code == 400 and "JSON object" in r.json()["message"]


def test_library_errors_keep_their_status(served: tuple[TestClient, dict[str, str]]) -> None:
    r = call(served, "profile", {"identifier": "email:nobody@example.com"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = call(
        served, "decide_review", {"left": "email:a@b.c", "right": "email:c@d.e", "accept": True}
    )
    assert r.status_code == 400 and "no review pair" in r.json()["message"]
    r = call(served, "decide_all", {"actions": "[policy\nbroken", "source": "my-actions.toml"})
    assert r.status_code == 400 and r.json()["message"].startswith("my-actions.toml:")


def test_answers_come_as_arrow_or_json(served: tuple[TestClient, dict[str, str]]) -> None:
    r = call(served, "care_list", {"limit": 5})
    assert (
        r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    )
    table = pa.ipc.open_stream(r.content).read_all()
    assert "person_id" in table.column_names
    r = call(served, "set_journey_stage", {"event": "Trial Started", "stage": "consider"})
    assert r.status_code == 200 and r.json() == {"event": "Trial Started", "stage": "consider"}


def test_the_registry_names_reads_and_writes() -> None:
    assert THROUGH_SERVER["profiles"] == "read" and THROUGH_SERVER["run"] == "write"
    assert THROUGH_SERVER["export_subject"] == "write"  # it writes the audit log
    assert set(THROUGH_SERVER.values()) == {"read", "write"}
    assert not any(name.startswith("_") for name in THROUGH_SERVER)
