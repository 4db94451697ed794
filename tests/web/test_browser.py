"""What a person sees, in Debian's Chromium driven by Playwright, against ``empatia serve``."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import WebWorld

pytestmark = pytest.mark.browser
MB = 1_000_000

#: Total bytes a page moved over the wire (the document and every asset it loaded).
WEIGHT_JS = """() => {
  const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  return {wire: all.reduce((s, e) => s + (e.encodedBodySize || 0), 0),
          decoded: all.reduce((s, e) => s + (e.decodedBodySize || 0), 0), count: all.length};
}"""


def signed_in(page: Any, world: WebWorld, secret: str | None = None) -> None:
    page.goto(page.base + "/")
    if "/signin" in page.url:
        page.fill("#key", secret or world.admin)
        page.click("form[action='/signin'] button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))


def test_sign_in_then_the_dashboard_draws_every_section(page, web_world):
    """Under the strict CSP: a violation is a console error, which fails the test."""
    page.context.clear_cookies()
    csp = page.goto(page.base + "/customers").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    assert "/signin?next=/customers" in page.url
    page.fill("#key", "emp_wrong")
    page.click("form[action='/signin'] button[type=submit]")
    assert "unknown key" in page.locator("[role=alert]").inner_text()
    page.errors.clear()  # the browser logs the 401 of the wrong key as an error
    signed_in(page, web_world)
    page.wait_for_selector(".loading", state="detached")
    page.locator(".vl.drawn svg").nth(7).wait_for()  # 8 charts drawn (locators: no eval)
    headings = page.locator("main h2").all_inner_texts()
    for title in ("Emotion over time", "Effort over time", "NPS, CSAT and CES", "The perception gap",
                  "Succeeded, but hurt", "Special care", "Journey map", "Funnel", "Decision mix", "Paths"):  # fmt: skip
        assert title in headings
    assert page.locator("text=Not available yet").count() == 0
    assert page.locator("svg.sankey path.link").count() > 0
    assert "NPS" in page.locator("#sec-scores .kpi").first.inner_text()
    weight = page.evaluate(WEIGHT_JS)
    assert weight["wire"] < MB, weight
    # a select re-draws its section in place (htmx)
    page.select_option("#by-emotion", "language")
    page.wait_for_selector("#emo-language.drawn svg")


def test_search_by_phone_number_opens_the_customer(page, web_world):
    signed_in(page, web_world)
    f = web_world.facts
    d = f["phone"].lstrip("+")
    page.fill("#q", f"+{d[:-9]} {d[-9:-6]} {d[-6:-3]} {d[-3:]}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/customers/{f['named']}")
    assert page.locator("h1").inner_text() == f"{f['first_name']} {f['last_name']}"
    assert page.locator(".facts").get_by_text("Customer for").is_visible()
    assert page.locator("#id-h").is_visible()
    identifiers = page.locator("section[aria-labelledby=id-h]").inner_text()
    assert f["email"] in identifiers  # an admin key sees contact details
    weight = page.evaluate(WEIGHT_JS)
    assert weight["wire"] < MB, weight


def test_customer_page_shows_their_words_and_feelings(page, web_world):
    signed_in(page, web_world)
    page.goto(page.base + f"/customers/{web_world.facts['talker']}")
    page.wait_for_selector("#trajectory.drawn svg")
    assert page.locator("#trajectory svg path, #trajectory svg .mark-symbol path").count() > 0
    assert page.locator(".timeline blockquote.words").count() > 0
    assert page.locator(".timeline .pill").count() > 0  # sentiment beside each text
    assert page.get_by_role("heading", name="Next best action").is_visible()


def test_acknowledge_a_special_care_alert(page, web_world):
    from playwright.sync_api import expect

    signed_in(page, web_world)
    page.wait_for_selector("#sec-care table")
    row = page.locator("#sec-care tbody tr").first
    name = row.locator("td a").inner_text()
    row.get_by_role("button", name="Acknowledge").click()
    expect(row.locator(".status")).to_have_text("acknowledged")
    assert row.get_by_role("button", name="Acknowledge").count() == 0
    assert row.get_by_role("button", name="Resolve").is_visible()
    # the customer's own page says so too
    row.locator("td a").click()
    page.wait_for_selector("#care-h")
    assert page.locator("h1").inner_text() == name
    assert page.locator("section[aria-labelledby=care-h] .status").inner_text() == "acknowledged"


def test_audience_is_sized_as_filters_change(page, web_world):
    from playwright.sync_api import expect

    signed_in(page, web_world)
    page.goto(page.base + "/audiences")
    before = page.locator(".size").inner_text()
    options = page.locator("select[name=market] option").all_inner_texts()
    page.select_option("select[name=market]", options[1])
    expect(page.locator(".size")).not_to_have_text(before)
    assert "of them allow" in page.locator("#audience-size").inner_text()
    assert page.get_by_role("link", name=re.compile(r"Export .* people")).is_visible()


def test_keyboard_and_small_screens(page, web_world):
    signed_in(page, web_world)
    page.goto(page.base + f"/customers/{web_world.facts['talker']}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select')]
        .filter(e => e.type !== 'hidden' && !e.labels?.length && !e.getAttribute('aria-label'))
        .map(e => e.name)""")
    assert unlabelled == []


def test_dashboard_fits_a_tablet(page, web_world):
    page.set_viewport_size({"width": 820, "height": 1180})
    signed_in(page, web_world)
    page.wait_for_selector(".loading", state="detached")
    page.locator(".vl.drawn svg").nth(7).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
