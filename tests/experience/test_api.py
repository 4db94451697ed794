"""HTTP (in process): thin over the library, words only for admins (the CLI: tests/cli/)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.privacy.keys import create_key
from empatia.workspace import Workspace


def test_http_experience_and_journeys(ews: Workspace) -> None:
    _, read = create_key(ews.store, "read", "cx")
    _, admin = create_key(ews.store, "admin", "ops")
    r_h, a_h = {"Authorization": f"Bearer {read}"}, {"Authorization": f"Bearer {admin}"}
    with TestClient(create_app(ews)) as c:
        assert c.get("/v1/experience/scores").status_code == 401
        nps = c.get("/v1/experience/scores?survey=nps&by=touchpoint", headers=r_h).json()
        assert nps[0]["touchpoint"] == "delivery" and nps[0]["n"] == 12
        hurt = c.get("/v1/experience/hurt", headers=r_h).json()
        assert hurt["journeys"][0]["person_id"] == "traveller"
        assert "text" not in hurt["journeys"][0]["evidence"][0]
        hurt = c.get("/v1/experience/hurt", headers=a_h).json()
        assert hurt["journeys"][0]["evidence"][0]["text"].startswith("Seven calls")
        ex = c.get("/v1/experience/excluded", headers=r_h).json()
        assert ex["summary"]["excluded"] == 7 and ex["summary"]["reasons"]["duplicate_text"] == 4
        tp = c.get("/v1/experience/touchpoints", headers=r_h).json()
        assert tp[0]["event"] == "Message Sent" and tp[0]["texts"] == 11 and tp[0]["emotion"] < 0
        gap = c.get("/v1/experience/gap", headers=r_h).json()
        assert gap[0]["touchpoint"] == "overall"
        assert (
            c.get("/v1/experience/persons/traveller", headers=r_h).json()["direction"]
            == "worsening"
        )
        assert c.get("/v1/experience/persons/nobody", headers=r_h).status_code == 404
        ms = c.get("/v1/experience/persons/traveller/may-survey", headers=r_h).json()
        assert ms["allowed"] is True
        assert c.get("/v1/experience/effort?by=nonsense", headers=r_h).status_code == 400
        f = c.post("/v1/journeys/funnel", headers=r_h,
                   json={"steps": ["Case Opened", "Case Resolved"], "within_days": 30}).json()  # fmt: skip
        assert [s["persons"] for s in f["steps"]] == [4, 4]
        p = c.get("/v1/journeys/paths?anchor=Case%20Opened&depth=1", headers=r_h).json()
        assert p["top"][0]["step"] == "Support Contact"
        m = c.get("/v1/journeys/map?person_id=traveller", headers=r_h).json()
        assert m["timeline"] and {s["stage"] for s in m["stages"]} >= {"get help"}
        assert c.get("/v1/journeys/stages", headers=r_h).json()["map"]["Order Completed"] == "buy"
        js = c.get("/v1/journeys/persons/traveller", headers=r_h).json()
        assert {j["journey_id"] for j in js} == {"case:C-traveller", "booking:B1"}
