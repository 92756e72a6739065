"""Issue 16 in a real browser: the dashboard tells the truth, and fits small screens.

- an attempt that was cancelled, refused or is still running is not a connection: the
  connector list does not count it, and the context page says what it is;
- looking at a provider in the New Connector picker adds nothing;
- a form names every problem at once;
- the callback URL is shown whole at 1280 px, and no page scrolls sideways at 390 px.

With ``XKIT_SCREENSHOTS=docs/images`` these tests also make the docs' pictures.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.emulators.services.fixture import ServicesEmulator
from tests.support.browser import PASSWORD, create_admin, screenshot, setup_link
from tests.support.devapp import DeveloperApp
from tests.support.flow import outlook_connector
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TRELLO_REFUSED = "Trello didn't accept this API key and token."


@pytest.fixture
def admin(browser: Browser, xkit_environment: XkitEnvironment, xkit_server: XkitServer,
          platform: PlatformCredentials) -> Iterator[Page]:
    """The developer, signed in to the dashboard in Chromium at laptop width."""
    email = f"dev-{secrets.token_hex(4)}@example.test"
    create_admin(xkit_environment, email, platform_slugs=(platform.slug,))
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{xkit_server.url}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/admin/p/{platform.slug}/connectors")
    yield page
    context.close()


@pytest.fixture
def dashboard_url(xkit_server: XkitServer, platform: PlatformCredentials) -> str:
    return f"{xkit_server.url}/admin/p/{platform.slug}"


def end_user_page(browser: Browser, app: DeveloperApp) -> Page:
    context = browser.new_context(viewport=LAPTOP, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(app.url)
    return page


def open_connect_popup(page: Page, connector: str) -> Page:
    page.locator(f'.card[data-connector="{connector}"]').click()
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    return opened.value


def connector_row(admin: Page, name: str) -> Any:
    return admin.locator(".list-item", has=admin.get_by_role("link", name=name, exact=True))


def connection_panel(admin: Page, connector: str) -> Any:
    return admin.locator("section.connection", has=admin.get_by_role("heading", name=connector))


def fits(page: Page, width: int) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth") <= width)


# The innermost elements that stick out to the right: what to fix when a page is too wide.
_STICKING_OUT = """width => [...document.body.querySelectorAll('*')]
  .filter(e => e.getBoundingClientRect().right > width + 0.5)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > width + 0.5))
  .slice(0, 4)
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
       (typeof e.className === 'string' && e.className ? '.' + e.className.trim() : '') +
       ' ' + Math.round(e.getBoundingClientRect().right))"""


def test_cancelled_and_refused_attempts_are_not_connections(
        browser: Browser, admin: Page, dashboard_url: str, app: DeveloperApp,
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, services: ServicesEmulator) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    api.post("/api/platform/connectors", json={
        "provider": "trello", "settings": {"api_host": services.host}}).raise_for_status()
    key, token = secrets.token_hex(16), secrets.token_hex(32)
    services.add_trello_member(username="grace", full_name="Grace Hopper", api_key=key,
                               api_token=token)
    microsoft.add_user(mail="ada@contoso.test")

    # The end user opens Outlook's popup and closes it at Microsoft's sign-in page...
    user = end_user_page(browser, app)
    popup = open_connect_popup(user, "outlook-email")
    popup.wait_for_url(f"{microsoft.base_url}/**")
    popup.close()
    expect(user.locator(".notice.error")).to_contain_text("cancelled")

    # ...then pastes a Trello token Trello refuses, and leaves the popup open.
    user.goto(app.url)
    trello = open_connect_popup(user, "trello")
    trello.get_by_label("API key").fill(key)
    trello.get_by_label("Token").fill(secrets.token_hex(32))
    trello.locator("#continue").click()
    expect(trello.locator("#collect-error")).to_contain_text("Trello didn't accept")

    # Neither is a connection.
    admin.goto(f"{dashboard_url}/connectors")
    expect(connector_row(admin, "Outlook Email")).to_contain_text("0 connections")
    expect(connector_row(admin, "Trello")).to_contain_text("0 connections")

    # The context page says what each attempt is, and calls neither "Connected".
    admin.get_by_role("link", name="Contexts", exact=True).click()
    admin.get_by_role("link", name=app.external_id).click()
    outlook = connection_panel(admin, "Outlook Email")
    expect(outlook).to_have_attribute("data-state", "cancelled")
    expect(outlook.locator(".badge")).to_have_text("Cancelled")
    refused = connection_panel(admin, "Trello")
    expect(refused).to_have_attribute("data-state", "failed")
    expect(refused.locator(".state-reason")).to_contain_text(f"Failed: {TRELLO_REFUSED}")
    expect(admin.locator("section.connection .badge", has_text="Connected")).to_have_count(0)
    screenshot(admin, "truth-01-context-attempts", doc="dashboard-context")

    # The right token connects: now it counts, and says so.
    trello.get_by_label("Token").fill(token)
    with trello.expect_event("close"):
        trello.locator("#continue").click()
    admin.reload()
    connected = connection_panel(admin, "Trello")
    expect(connected).to_have_attribute("data-state", "connected")
    expect(connected.locator(".badge")).to_have_text("Connected")
    expect(connected.locator(".state-reason")).to_have_count(0)
    expect(connection_panel(admin, "Outlook Email")).to_have_attribute("data-state", "cancelled")
    admin.goto(f"{dashboard_url}/connectors")
    expect(connector_row(admin, "Trello")).to_contain_text("1 connection")
    expect(connector_row(admin, "Outlook Email")).to_contain_text("0 connections")
    screenshot(admin, "truth-02-connectors", doc="dashboard-connectors")
    user.context.close()


def test_browsing_the_picker_adds_nothing_until_add_connector(
        admin: Page, dashboard_url: str, api: httpx.Client, xkit_server: XkitServer,
        platform: PlatformCredentials) -> None:
    admin.get_by_role("link", name="New Connector").first.click()
    admin.get_by_label("Search providers").fill("outlook")
    admin.get_by_role("link", name=re.compile(r"^Outlook Email Read")).click()

    # A preview: what it is, its setup guide with this platform's callback URL, its scopes.
    admin.wait_for_url("**/connectors/new/outlook-email")
    callback = f"{xkit_server.url}/p/{platform.slug}/callback"
    expect(admin.get_by_role("heading", name="Outlook Email", level=1)).to_be_visible()
    expect(admin.locator(".guide")).to_contain_text(callback)
    expect(admin.locator(".preview-scopes")).to_contain_text("offline_access")
    expect(admin.locator(".scope-row", has_text="offline_access")).to_contain_text(
        "always requested")
    screenshot(admin, "truth-03-provider-preview", doc="dashboard-provider-preview")
    admin.go_back()
    admin.get_by_role("link", name=re.compile(r"^Slack")).click()
    admin.wait_for_url("**/connectors/new/slack")
    assert api.get("/api/platform/connectors").json()["connectors"] == []

    # Only the button adds it; without credentials it is in one clear state, not offered.
    admin.go_back()
    admin.get_by_role("link", name=re.compile(r"^Outlook Email Read")).click()
    admin.get_by_role("button", name="Add connector").click()
    admin.wait_for_url(f"**/admin/p/{platform.slug}/connectors/outlook-email")
    [connector] = api.get("/api/platform/connectors").json()["connectors"]
    assert connector["provider"] == "outlook-email" and connector["ready"] is False
    expect(admin.locator(".connector-state .badge")).to_have_text("Needs credentials")
    expect(admin.locator("#needs-credentials")).to_contain_text("Not offered in the catalog")
    admin.goto(f"{dashboard_url}/connectors")
    expect(connector_row(admin, "Outlook Email").locator(".badge")).to_have_text(
        "Needs credentials")


def test_every_form_names_every_problem_at_once(
        browser: Browser, admin: Page, dashboard_url: str, api: httpx.Client,
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    api.post("/api/platform/connectors", json={"provider": "outlook-email"}).raise_for_status()
    connector = f"{dashboard_url}/connectors/outlook-email"

    # Connector setup: a client ID with spaces and no secret.
    admin.goto(connector)
    admin.get_by_label("Client ID").fill("Application (client) ID")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator("#error-client_id")).to_contain_text("without spaces")
    expect(admin.locator("#error-client_secret")).to_contain_text("Paste the client secret")
    screenshot(admin, "truth-04-setup-errors", doc="dashboard-connector-setup-errors")

    # Connector settings: two provider settings wrong at once.
    admin.goto(f"{connector}/settings")
    admin.get_by_label("Tenant").fill("not a tenant!")
    admin.get_by_label("Sign-in host").fill("bad host name")
    admin.get_by_role("button", name="Save connector settings").click()
    expect(admin.locator("#error-setting-tenant")).to_be_visible()
    expect(admin.locator("#error-setting-login_host")).to_be_visible()

    # Platform settings: an empty name, a bad slug, an origin with a path, a bad logo.
    admin.goto(f"{dashboard_url}/settings")
    admin.get_by_label("Name", exact=True).fill("")
    admin.get_by_label("Slug").fill("Not A Slug")
    admin.get_by_label("Allowed web origins").fill("https://app.example.com/with/path")
    admin.get_by_label("Logo URL").fill("not a url")
    admin.get_by_role("button", name="Save settings").click()
    for field in ("name", "slug", "allowed_origins", "logo_url"):
        expect(admin.locator(f"#error-{field}")).to_be_visible()
    assert api.get("/api/platform/connectors").status_code == 200  # nothing renamed

    # The first admin's setup form: a bad email, a short password, a different confirmation.
    server = XkitServer(fresh_environment, tmp_path / "setup-serve.log")
    try:
        context = browser.new_context(viewport=LAPTOP)
        page = context.new_page()
        page.goto(setup_link(server))
        page.get_by_label("Email").fill("not-an-email")
        page.get_by_label("Password", exact=True).fill("short")
        page.get_by_label("Password, again").fill("different")
        page.get_by_role("button", name="Create admin and sign in").click()
        for field in ("email", "password", "password_confirmation"):
            expect(page.locator(f"#error-{field}")).to_be_visible()
        screenshot(page, "truth-05-setup-form-errors")
        context.close()
    finally:
        server.stop()


def test_callback_url_is_whole_and_no_page_is_wider_than_a_phone(
        admin: Page, dashboard_url: str, api: httpx.Client, xkit_server: XkitServer,
        platform: PlatformCredentials, microsoft: MicrosoftEmulator) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    created = api.post("/api/platform/contexts", json={"context": {
        "external_id": "user-with-a-rather-long-identifier-0123456789",
        "external_name": "Ada"}}).json()
    connector = f"{dashboard_url}/connectors/outlook-email"

    admin.goto(connector)
    callback = admin.get_by_label("Callback URL")
    assert callback.input_value() == f"{xkit_server.url}/p/{platform.slug}/callback"
    assert callback.evaluate("e => e.scrollWidth <= e.clientWidth"), "the URL is cut off"
    screenshot(admin, "truth-06-connector-setup", doc="dashboard-connector-setup")

    admin.set_viewport_size(PHONE)
    pages = ["/connectors", "/connectors/new", "/connectors/new/outlook-email",
             "/connectors/outlook-email", "/connectors/outlook-email/catalog",
             "/connectors/outlook-email/settings", "/connectors/outlook-email/delete",
             "/contexts", f"/contexts/{created['context']['id']}", "/api-keys", "/webhooks",
             "/settings", "/jwt-issuers", "/audit"]
    wide = []
    for path in pages:
        admin.goto(dashboard_url + path)
        if not fits(admin, PHONE["width"]):
            wide.append((path, admin.evaluate(_STICKING_OUT, PHONE["width"])))
    assert wide == [], f"pages wider than {PHONE['width']} px: {wide}"
    admin.goto(connector)
    whole = admin.locator(".whole-url")  # too long for a phone's input: shown wrapped below it
    expect(whole).to_be_visible()
    expect(whole).to_have_text(f"{xkit_server.url}/p/{platform.slug}/callback")
    screenshot(admin, "truth-07-connector-setup-phone", doc="dashboard-phone")
