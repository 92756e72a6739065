"""`xkit demo` in Chromium: the one-time admin link, and the sample app showing what its
backend does with a connection — and what it sees when the sandbox misbehaves.
Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import PASSWORD, screenshot
from tests.support.demo import Demo, start_demo
from tests.support.processes import free_port

pytestmark = [pytest.mark.browser, pytest.mark.database_independent]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port, app_port = free_port(), free_port()
    started = start_demo(tmp_path_factory.mktemp("demo-browser"), "--port", str(port),
                         "--app-port", str(app_port), xkit_port=port, app_port=app_port)
    yield started
    started.stop()


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    return context.new_page()


def shown_json(page: Page, selector: str) -> Any:
    return json.loads(page.locator(selector).inner_text())


def test_the_one_time_admin_link_opens_the_demo_platform(browser: Browser, demo: Demo) -> None:
    [link] = re.findall(r"(http://\S+/admin/setup\?token=\S+)", demo.output())
    page = new_page(browser)
    page.goto(link)
    page.get_by_label("Email").fill("dev@example.test")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password, again").fill(PASSWORD)
    page.get_by_role("button", name="Create admin and sign in").click()

    page.wait_for_url(f"{demo.xkit}/admin/p/demo/connectors")
    expect(page.get_by_text("Sandbox").first).to_be_visible()
    expect(page.get_by_text("Start by creating your platform")).to_have_count(0)
    screenshot(page, "demo-01-admin-lands-on-the-demo-platform")
    page.context.close()


def test_the_sample_app_shows_its_backends_code_beside_the_result(
        browser: Browser, demo: Demo) -> None:
    page = new_page(browser)
    page.goto(demo.app)
    # The code is on the page from the start: what the backend will run.
    expect(page.locator("#code")).to_contain_text(
        'await xkit.get("/api/platform/contexts/demo-user/connections/sandbox")')
    expect(page.locator("#code")).to_contain_text(
        "await xkit.get(f\"/api/platform/proxy/{connection['connection']['id']}/notes\")")

    page.locator('.card[data-connector="sandbox"]').click()
    approve_in_sandbox(page, demo, "Ada Lovelace")

    # Connected: the page asks its backend to use the connection, and shows what came back.
    expect(page.locator("#result")).to_contain_text("Buy milk")
    result = shown_json(page, "#result")
    assert result["connection"]["account"] == "ada.lovelace@sandbox.test"
    assert result["connection"]["status"] == "connected"
    assert result["GET notes (through the proxy)"]["status"] == 200
    assert "…" in result["connection"]["access_token"]  # never the whole token on a page
    screenshot(page, "demo-03-code-beside-the-result")

    # Fail the next 3 calls with 503: the backend sees the 503 through the proxy.
    page.get_by_role("button", name="Fail the next 3 calls (503)").click()
    expect(page.locator("#switch-result")).to_contain_text('"fail_next": 3')
    expect(page.locator("#switch-code")).to_contain_text(
        'await xkit.post(f"/api/platform/proxy/{connection_id}/switches", json=switches)')
    page.get_by_role("button", name="Run it again").click()
    expect(page.locator("#result")).to_contain_text('"status": 503')
    screenshot(page, "demo-04-sandbox-fails")

    # Throttled twice with Retry-After: 1 — xkit waits once, then passes the 429 on.
    page.get_by_role("button", name="Back to normal").click()
    expect(page.locator("#switch-result")).to_contain_text('"fail_next": 0')
    page.get_by_role("button", name="Fail the next 2 calls (429, Retry-After: 1)").click()
    expect(page.locator("#switch-result")).to_contain_text('"fail_status": 429')
    page.get_by_role("button", name="Run it again").click()
    expect(page.locator("#result")).to_contain_text('"status": 429')
    throttled = shown_json(page, "#result")["GET notes (through the proxy)"]
    assert throttled["retry_after"] == "1"

    # Answer slowly, then back to normal.
    page.get_by_role("button", name="Back to normal").click()
    expect(page.locator("#switch-result")).to_contain_text('"fail_next": 0')
    page.get_by_role("button", name="Answer slowly (2 s)").click()
    expect(page.locator("#switch-result")).to_contain_text('"delay_ms": 2000')
    page.get_by_role("button", name="Run it again").click()
    expect(page.locator("#result")).to_contain_text("Buy milk")
    assert shown_json(page, "#result")["took_ms"] >= 2000
    page.get_by_role("button", name="Back to normal").click()
    expect(page.locator("#switch-result")).to_contain_text('"delay_ms": 0')

    # Revoke the grant: the backend is told to have the user reconnect, and so is the user.
    page.get_by_role("button", name="Revoke the grant").click()
    expect(page.locator("#switch-result")).to_contain_text('"revoked_before"')
    page.get_by_role("button", name="Run it again").click()
    expect(page.locator("#result")).to_contain_text("reconnect_required")
    screenshot(page, "demo-05-revoked")
    page.reload()
    card = page.locator('.card[data-connector="sandbox"]')
    expect(card).to_contain_text("Needs attention")
    card.click()
    approve_in_sandbox(page, demo, "Ada Lovelace", button="Reconnect")
    expect(page.locator("#result")).to_contain_text("Buy milk")  # a new grant works
    page.context.close()


def approve_in_sandbox(page: Page, demo: Demo, name: str, *, button: str = "Connect") -> None:
    """Click the catalog's button, approve as ``name`` on the sandbox's consent page in the
    popup, and wait until the popup has closed."""
    with page.expect_popup() as opened:
        page.get_by_role("button", name=button, exact=True).first.click()
    popup = opened.value
    popup.wait_for_url(f"{demo.xkit}/sandbox/authorize**")
    popup.locator("#name").fill(name)
    if button == "Connect":
        screenshot(popup, "demo-02-sandbox-consent")
    with popup.expect_event("close"):
        popup.locator("#approve").click()
