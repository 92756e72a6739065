"""The collect step in a real browser: the popup asks for the tenant, then signs in there."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.browser import screenshot
from tests.support.devapp import DeveloperApp
from tests.support.xkit import PlatformCredentials, XkitServer

pytestmark = pytest.mark.browser

TENANT_ID = "11111111-2222-3333-4444-555555555555"


def test_end_user_types_the_tenant_in_the_popup_and_connects(
    browser: Browser,
    app: DeveloperApp,
    api: httpx.Client,
    xkit_server: XkitServer,
    platform: PlatformCredentials,
    microsoft: MicrosoftEmulator,
) -> None:
    microsoft.add_tenant(id=TENANT_ID, domains=["contoso.test"])
    registered = microsoft.register_app(
        redirect_uris=[f"{xkit_server.url}/p/{platform.slug}/callback"]
    )
    api.post(
        "/api/platform/connectors",
        json={
            "provider": "tenant-mail",
            "client_id": registered["client_id"],
            "client_secret": registered["secrets"][0],
            "settings": {"login_host": microsoft.base_host, "graph_host": microsoft.base_host},
        },
    ).raise_for_status()
    user = microsoft.add_user(mail="ada@contoso.test", tenant_id=TENANT_ID)

    context = browser.new_context(viewport={"width": 1280, "height": 860}, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(app.url)
    card = page.locator('.card[data-connector="tenant-mail"]')
    expect(card).to_be_visible()
    card.click()  # the connector's page, with its Connect button
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    popup = opened.value
    popup.locator("#field-tenant").wait_for()
    expect(popup.get_by_label("Your organization's domain or tenant ID")).to_be_visible()

    popup.locator("#field-tenant").fill("not a tenant!")
    popup.locator("#continue").click()
    expect(popup.locator("#error-tenant")).to_be_visible()
    expect(popup.locator("#field-tenant")).to_have_value("not a tenant!")
    screenshot(popup, "collect-01-error")

    popup.locator("#field-tenant").fill("contoso.test")
    popup.locator("#continue").click()
    popup.wait_for_url(f"{microsoft.base_url}/contoso.test/**")
    popup.locator(f"#account-{user['id']}").check()
    with popup.expect_event("close"):
        popup.locator("button#accept").click()
    expect(page.locator(".detail .badge")).to_have_text("Connected")
    expect(page.locator('.connection[data-state="connected"] .account')).to_have_text(
        "ada@contoso.test"
    )
    screenshot(page, "collect-02-connected")
    body = api.get("/api/platform/contexts/" + app.external_id + "/connections/tenant-mail").json()
    assert body["authorization"]["display_label"] == "ada@contoso.test"
