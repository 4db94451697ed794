"""Special care over HTTP (in process), thin over the library; the CLI: tests/cli/test_care.py."""

from __future__ import annotations

from pathlib import Path

import shutil

from fastapi.testclient import TestClient

from empatia import care
from empatia.api.app import create_app
from empatia.privacy.keys import create_key
from empatia.store import Store
from empatia.workspace import Workspace


def _world(db: Path, template: tuple[Path, object]) -> None:
    shutil.copy(template[0], db)
    with Store(db) as s:
        care.run_care(s.con, deliver=False)


def test_http_list_entry_actions_and_webhooks(
    tmp_path: Path, template: tuple[Path, object]
) -> None:
    db = tmp_path / "api.duckdb"
    _world(db, template)
    with Store(db) as s:
        _, read = create_key(s, "read", "cx")
        _, admin = create_key(s, "admin", "ops")
        _, agent = create_key(s, "care", "agents")
    ws = Workspace(db=db)
    with TestClient(create_app(ws)) as c:
        r = c.get("/v1/care", headers={"Authorization": f"Bearer {read}"})
        assert r.status_code == 200 and r.json()[0]["person_id"] == "musician"
        e = c.get("/v1/care/musician", headers={"Authorization": f"Bearer {read}"}).json()
        assert e["text_visible"] is False and not any(
            "text" in m for m in e["evidence"]["messages"]
        )
        e = c.get("/v1/care/musician", headers={"Authorization": f"Bearer {admin}"}).json()
        assert any(m.get("text") for m in e["evidence"]["messages"])
        assert c.get("/v1/care").status_code == 401
        r = c.post("/v1/care/alerts/musician/ack", json={"note": "on it"},
                   headers={"Authorization": f"Bearer {read}"})  # fmt: skip
        assert r.status_code == 403  # a read key changes nothing; agents get care keys
        r = c.post("/v1/care/alerts/musician/ack", json={"note": "on it"},
                   headers={"Authorization": f"Bearer {agent}"})  # fmt: skip
        assert r.status_code == 200 and r.json()["status"] == "acknowledged"
        r = c.post("/v1/care/alerts/musician/resolve", json={"note": "done"},
                   headers={"Authorization": f"Bearer {agent}"})  # fmt: skip
        assert r.json()["status"] == "resolved"
        r = c.post(
            "/v1/care/alerts/musician/resolve", json={}, headers={"Authorization": f"Bearer {agent}"}
        )
        assert r.status_code == 409
        assert (
            c.get("/v1/care/webhooks", headers={"Authorization": f"Bearer {read}"}).status_code
            == 403
        )
        h = c.post("/v1/care/webhooks", json={"url": "http://127.0.0.1:9/x"},
                   headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
        assert h.status_code == 201 and h.json()["secret"].startswith("whsec_")
        hooks = c.get("/v1/care/webhooks", headers={"Authorization": f"Bearer {admin}"}).json()
        assert hooks[0]["url"] == "http://127.0.0.1:9/x" and "secret" not in hooks[0]
        alerts = c.get("/v1/care/alerts", headers={"Authorization": f"Bearer {read}"}).json()
        assert {a["person_id"]: a["status"] for a in alerts}["musician"] == "resolved"
    ws.close()
