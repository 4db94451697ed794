"""Search, the special-care list, the funnel, charts and unknown sections, as a user meets them."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from empatia.api.app import create_app
from empatia.web import charts
from empatia.workspace import Workspace
from tests.web.conftest import WebWorld, sign_in

HX = {"hx-request": "true"}


def test_a_phone_number_typed_without_its_plus_finds_the_person(world_client, web_world):
    f = web_world.facts
    digits = f["phone"].lstrip("+")  # "48566191028", as people type it from a CRM export
    for typed in (digits, "00" + digits, f"{digits[:2]} {digits[2:5]} {digits[5:8]} {digits[8:]}"):
        r = world_client.get("/customers", params={"q": typed}, follow_redirects=False)
        assert r.status_code == 303, (typed, r.text[:300])
        assert r.headers["location"] == f"/customers/{f['named']}", typed
    r = world_client.get("/customers", params={"q": "12345"})
    assert r.status_code == 200 and "Nobody found" in r.text


def test_the_special_care_list_pages_through_everyone(web_world: WebWorld, tmp_path: Path):
    db = web_world.copy(tmp_path / "w.duckdb")
    with Workspace(db=db) as ws:
        con = ws.store.con
        have = con.execute("select count(*) from care_list").fetchone()[0]
        con.execute(  # more people on the list than one page holds (as on a real shop)
            "insert into care_list select ? + row_number() over (order by person_id), person_id,"
            " 0.5, 0.5, 0.5, 0.4, 'waited twice', '{}', 'open', null, null, now()"
            " from profiles where person_id not in (select person_id from care_list)"
            " order by person_id limit 40", [have])  # fmt: skip
        total = con.execute("select count(*) from care_list").fetchone()[0]
        assert total > 30
        with TestClient(create_app(ws)) as client:
            sign_in(client, web_world.care)
            seen: list[str] = []
            url: str | None = "/dashboard/care"
            pages = 0
            while url:
                r = client.get(url, headers=HX)
                assert r.status_code == 200
                people = re.findall(r'<td><a href="/customers/([^"]+)">', r.text)
                assert people and not set(people) & set(seen), "a page repeats people"
                seen += people
                assert f"of {total} people" in r.text
                nxt = re.search(r'hx-get="(/dashboard/care\?page=\d+)"[^>]*>Next', r.text)
                url = nxt.group(1) if nxt else None
                pages += 1
            assert len(seen) == total and pages == -(-total // 15)
            r = client.get("/dashboard/care", params={"page": 2})  # a plain link: a page of its own
            assert r.status_code == 200 and "← More urgent" in r.text and "<html" in r.text
            assert client.get("/dashboard/care", params={"page": 0}).status_code == 400


def test_an_unknown_dashboard_section_is_a_404_page_not_json(world_client):
    r = world_client.get("/dashboard/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "No dashboard section “nope”" in r.text and 'href="/dashboard/funnel"' in r.text


def test_the_funnel_shows_people_dropping_out_at_every_step(world_client, web_world, tmp_path):
    from empatia.journeys import funnel
    from empatia.web.dashboard import FUNNEL_STEPS

    html = world_client.get("/dashboard/funnel", headers=HX).text
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"n\">([\d,]+)</td>.*?"
                      r"<td class=\"n\">([\d,]+)</td></tr>", html)  # fmt: skip
    dropped = {step: int(d.replace(",", "")) for step, _, d in rows}
    assert list(dropped) == FUNNEL_STEPS
    for step in FUNNEL_STEPS[1:]:  # carts and checkouts are abandoned in any shop
        assert dropped[step] > 0, (step, dropped)
    with Workspace(db=web_world.copy(tmp_path / "w.duckdb")) as ws:  # as `empatia journeys funnel`
        cli = funnel(ws.store.con, FUNNEL_STEPS, within_days=30).as_dict()["steps"]
    assert [s["drop_off"] for s in cli] == [dropped[s] for s in FUNNEL_STEPS]


def _month_ticks(axis: dict, start: str, end: str) -> list[str]:
    """The labels a Vega time axis with this ``tickCount`` draws between two dates."""
    from datetime import date

    step = axis["tickCount"]["step"]
    assert axis["tickCount"]["interval"] == "month"
    d0, d1 = date.fromisoformat(start), date.fromisoformat(end)
    labels, m = [], d0.year * 12 + d0.month - 1
    if d0.day != 1:
        m += 1
    while date(m // 12, m % 12 + 1, 1) <= d1:
        if (m % 12) % step == 0:  # d3's utcMonth.every(step) ticks on months 0, step, 2·step …
            labels.append(date(m // 12, m % 12 + 1, 1).strftime("%b %Y"))
        m += 1
    return labels


def test_chart_month_labels_appear_once_each():
    from datetime import UTC, datetime

    # one person's two texts a week apart: the axis is widened to about two months
    pts = [{"timestamp": datetime(2026, 8, d, tzinfo=UTC), "seq": d, "score": 0.1} for d in (3, 10)]
    axis = charts.trajectory(pts)["layer"][0]["encoding"]["x"]["axis"]
    assert axis["format"] == "%b %Y"
    labels = _month_ticks(axis, "2026-07-04", "2026-09-09")
    assert labels == ["Aug 2026", "Sep 2026"]
    rows = [{"month": f"2024-{m:02d}-01", "grp": "web", "score": 0.1, "n": 5} for m in range(1, 13)]
    rows += [
        {"month": f"2025-{m:02d}-01", "grp": "web", "score": 0.1, "n": 5} for m in range(1, 13)
    ]
    spec = charts.lines(rows, "month", "score", "grp", "d", "s")
    axis = spec["encoding"]["x"]["axis"]
    labels = _month_ticks(axis, "2024-01-01", "2025-12-01")
    assert len(labels) == len(set(labels)) and 2 <= len(labels) <= charts.MAX_TIME_LABELS
