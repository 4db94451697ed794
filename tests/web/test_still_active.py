"""The chance of being "still active" on the customer 360 and in ``/v1/profiles/{id}``:
the experience stage's value with its main driver in words, the purchase model's beside it
(issue #15)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace
from tests.experience.test_activity import activity_world
from tests.web.conftest import sign_in


def test_the_360_shows_still_active_with_its_driver(tmp_path):
    with Workspace(db=tmp_path / "w.duckdb") as ws:
        activity_world(ws)
        _, admin = create_key(ws.store, "admin", "web admin")
        ws.store.con.execute("insert into identities values ('user_id', 'threat', 'threat')")
        p_active = ws.store.con.execute(
            "select p_active from experience_activity where person_id = 'threat'"
        ).fetchone()[0]
        with TestClient(create_app(ws)) as client:
            sign_in(client, admin)
            html = client.get("/customers/threat").text
            api = client.get("/v1/profiles/threat", headers={"Authorization": f"Bearer {admin}"})
    shown = f"{p_active * 100:.0f}%"
    assert "Still active (chance)" in html
    assert f"{shown} — threatened to leave 20 days ago" in html
    assert "purchase rhythm alone: 80%" in html
    assert api.status_code == 200, api.text
    prof = api.json()["profile"]
    assert prof["p_active"] < prof["p_alive"]
    assert prof["p_active_driver"] == "threatened to leave 20 days ago"
    assert prof["p_active_drivers"][0] == "threat"
