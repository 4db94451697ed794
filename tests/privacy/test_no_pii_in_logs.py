"""No personal data in logs: every privacy path at DEBUG, through the library and the API."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.pipeline import RunContext, run_pipeline
from empatia.privacy.access import export_subject
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace

from .conftest import ALA, BOB


def test_privacy_paths_log_no_personal_data(world: Workspace, caplog: pytest.LogCaptureFixture) -> None:  # noqa: E501
    caplog.set_level(logging.DEBUG)
    _, admin = create_key(world.store, "admin")
    run_pipeline(RunContext(world), only=("privacy",))
    export_subject(world.store, BOB["user_id"])
    with TestClient(create_app(world)) as c:
        h = {"Authorization": f"Bearer {admin}"}
        assert c.get(f"/v1/subjects/email:{ALA['email']}", headers=h).status_code == 200
        assert c.get(f"/v1/consent/email:{ALA['email']}", headers=h).status_code == 200
        r = c.delete(f"/v1/subjects/email:{ALA['email']}", headers=h)
        assert r.status_code == 200, r.text
        assert c.get(f"/v1/subjects/email:{ALA['email']}", headers=h).status_code == 404
    # The test's own HTTP client logs the URLs it calls; the server side must log nothing.
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert server, "nothing was logged at all"
    text = "\n".join(r.getMessage() + str(r.exc_text or "") for r in server)
    for needle in (*ALA.values(), BOB["email"], BOB["text"], "zlotykot"):
        assert needle not in text, needle
