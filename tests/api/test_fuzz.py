"""Fuzz every operation of the OpenAPI schema (schemathesis): no answer is ever a 5xx.

Bounded: a few examples per operation (``EMPATIA_FUZZ_EXAMPLES``, 5 by default; the nightly
``benchmarks/api_fuzz.py`` runs 200), each sent with an admin key (so requests get past
authentication), with the public write key and with no key at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from empatia.api.app import create_app
from empatia.workspace import Workspace

from .conftest import make_keys

schemathesis = pytest.importorskip("schemathesis")

_TMP = Path(__import__("tempfile").mkdtemp(prefix="empatia-fuzz-"))
_WS = Workspace(db=_TMP / "fuzz.duckdb")
_KEYS = make_keys(_WS)
_APP = create_app(_WS)
#: Who sends each example: an admin key, the public write key, nobody.
CALLERS = {"admin": {"Authorization": f"Bearer {_KEYS['admin']}"},
           "write": {"Authorization": f"Bearer {_KEYS['write']}"}, "none": {}}  # fmt: skip
EXAMPLES = int(os.environ.get("EMPATIA_FUZZ_EXAMPLES", "5"))
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)

#: 5xx found by this test in other stages' routes, reported to their owners; they run, and
#: count as expected failures until fixed (then they simply pass).
KNOWN_5XX = {
}


@pytest.fixture(scope="module", autouse=True)
def _running() -> Iterator[None]:
    """Start the app's lifespan (writer, key ring) for the whole module."""
    with TestClient(_APP):
        yield
    _WS.close()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          # one app for the module (its lifespan); big JSON bodies are slow to generate
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])  # fmt: skip
def test_no_server_errors(case: schemathesis.Case) -> None:
    from schemathesis.checks import not_a_server_error

    try:
        for headers in CALLERS.values():
            case.call_and_validate(headers=headers, checks=[not_a_server_error])
    except Exception as e:  # noqa: BLE001
        label = f"{case.method.upper()} {case.path}"
        if label in KNOWN_5XX:
            pytest.xfail(f"known: {KNOWN_5XX[label]} ({type(e).__name__})")
        raise
