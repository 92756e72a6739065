"""An API key in a real browser: the catalog's Connect opens the popup's form, a wrong token
is refused there, the right one connects and the app's page shows it — no provider pages."""

from __future__ import annotations

import secrets

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.emulators.services.fixture import ServicesEmulator
from tests.support.browser import screenshot
from tests.support.devapp import DeveloperApp

pytestmark = pytest.mark.browser


def test_end_user_pastes_a_trello_key_and_token_in_the_popup(
    browser: Browser, app: DeveloperApp, api: httpx.Client, services: ServicesEmulator,
) -> None:
    api.post("/api/platform/connectors", json={
        "provider": "trello", "settings": {"api_host": services.host}}).raise_for_status()
    key, token = secrets.token_hex(16), secrets.token_hex(32)
    services.add_trello_member(username="grace", full_name="Grace Hopper", api_key=key,
                               api_token=token)

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(app.url)
    page.locator('.card[data-connector="trello"]').click()
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    popup = opened.value
    popup.get_by_label("API key").fill(key)
    popup.get_by_label("Token").fill(secrets.token_hex(32))
    popup.locator("#continue").click()
    expect(popup.locator("#collect-error")).to_contain_text("Trello didn't accept")
    expect(popup.get_by_label("API key")).to_have_value(key)
    expect(popup.get_by_label("Token")).to_have_value("")
    screenshot(popup, "api-key-01-refused")

    popup.get_by_label("Token").fill(token)
    with popup.expect_event("close"):
        popup.locator("#continue").click()
    expect(page.locator(".detail .badge")).to_have_text("Connected")
    expect(page.locator('.connection[data-state="connected"] .account')).to_have_text("grace")
    screenshot(page, "api-key-02-connected")
