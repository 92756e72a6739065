"""First contact with the embedded catalog (issue 16): a page on an origin the platform does
not allow, the catalog as a modal dialog, Connect buttons on the cards, the category filter,
and the hosted page given a new token in the same tab.

The developer's app runs on its own origin (tests/support/devapp.py); the browser is Debian's
Chromium. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.browser import screenshot
from tests.support.devapp import DeveloperApp, update_platform
from tests.support.flow import new_end_user, outlook_connector
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.http.cors import RefusedOriginLog

LAPTOP = {"width": 1280, "height": 860}

# Where the keyboard focus is, looked for inside shadow roots: a description a test can read.
FOCUSED = """() => {
  let node = document.activeElement;
  while (node && node.shadowRoot && node.shadowRoot.activeElement) {
    node = node.shadowRoot.activeElement;
  }
  let inDialog = false;
  for (let at = node; at; at = at.getRootNode().host) {
    if (at.matches && at.matches("[data-xkit-dialog]")) inDialog = true;
  }
  return {id: node && node.id, inDialog,
          text: node && (node.getAttribute("aria-label") || node.textContent.trim())};
}"""


@pytest.fixture
def outlook(api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
            microsoft: MicrosoftEmulator) -> dict[str, Any]:
    return outlook_connector(api, xkit_server, platform, microsoft, **{
        "short_description": "Read and send email from your Outlook or Microsoft 365 mailbox."})


def new_page(browser: Browser) -> tuple[Page, list[str]]:
    """A fresh browser tab, and the console errors it prints."""
    context = browser.new_context(viewport=LAPTOP, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith(
                "/favicon.ico"):  # the app has none
            errors.append(message.text)
    page.on("console", keep)
    return page, errors


def consent(page: Page, microsoft: MicrosoftEmulator, account_id: str, button: Any) -> None:
    """Click a button that opens the connect popup, pick the account and accept."""
    with page.expect_popup() as opened:
        button.click()
    popup = opened.value
    popup.wait_for_url(f"{microsoft.base_url}/**")
    popup.locator(f"#account-{account_id}").check()
    with popup.expect_event("close"):
        popup.locator("button#accept").click()


# --- a page on an origin the platform does not allow ------------------------------------------

def test_the_origin_probe_says_whether_the_calling_origin_is_allowed(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer,
        platform: PlatformCredentials) -> None:
    update_platform(xkit_environment, platform.slug, allowed_origins=["https://app.example.test"])
    probe = f"{xkit_server.url}/p/{platform.slug}/api/platform_user/origin"

    refused = httpx.get(probe, headers={"Origin": "https://wrong.example.test"})
    assert refused.status_code == 200
    assert refused.headers["access-control-allow-origin"] == "*"  # any page may read it
    assert refused.json()["allowed"] is False
    assert refused.json()["origin"] == "https://wrong.example.test"
    assert refused.json()["setting"] == "allowed_origins"
    assert "https://wrong.example.test" in refused.json()["message"]

    allowed = httpx.get(probe, headers={"Origin": "https://app.example.test"})
    assert allowed.json()["allowed"] is True

    missing = httpx.get(f"{xkit_server.url}/p/no-such-platform/api/platform_user/origin",
                        headers={"Origin": "https://app.example.test"})
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "*"
    assert missing.json()["error"]["code"] == "platform_not_found"


def test_a_refused_origin_still_gets_nothing_and_is_logged_once(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer,
        platform: PlatformCredentials) -> None:
    update_platform(xkit_environment, platform.slug, allowed_origins=["https://app.example.test"])
    token = new_end_user(xkit_server, platform).token
    session = f"{xkit_server.url}/p/{platform.slug}/api/platform_user/session"
    origin = f"https://refused-{uuid.uuid4().hex[:8]}.example.test"

    for _ in range(5):  # a busy page retrying
        preflight = httpx.options(session, headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers
    direct = httpx.get(session, headers={"Origin": origin, "Authorization": f"Bearer {token}"})
    assert "access-control-allow-origin" not in direct.headers  # the page may read none of it

    warnings = [line for line in xkit_server.output().splitlines() if origin in line]
    assert len(warnings) == 1, warnings
    assert "WARNING" in warnings[0]
    assert platform.slug in warnings[0] and "allowed_origins" in warnings[0]
    assert token not in xkit_server.output()


@pytest.mark.database_independent
def test_the_refusal_log_is_rate_limited_per_pair_and_bounded(
        caplog: pytest.LogCaptureFixture) -> None:
    refusals = RefusedOriginLog(interval=60, capacity=3)
    with caplog.at_level("WARNING", logger="xkit.cors"):
        assert refusals.refused("acme", "https://a.example.test")
        assert not refusals.refused("acme", "https://a.example.test")  # within the minute
        assert refusals.refused("acme-staging", "https://a.example.test")  # another platform
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert "https://a.example.test" in caplog.records[0].getMessage()

    for n in range(10):  # made-up origins cannot grow it without bound
        refusals.refused("acme", f"https://made-up-{n}.example.test")
    assert len(refusals) == 3
    assert refusals.refused("acme", "https://a.example.test")  # forgotten: logged again


@pytest.mark.browser
def test_a_page_on_a_refused_origin_explains_instead_of_loading_forever(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        xkit_environment: XkitEnvironment) -> None:
    update_platform(xkit_environment, app.platform.slug,
                    allowed_origins=["https://app.example.test"])  # the app's origin forgotten
    page, errors = new_page(browser)
    page.goto(app.url)

    state = page.locator('[data-state="not-set-up"]')
    expect(state).to_contain_text("This catalog isn't set up for this site.")
    expect(page.get_by_text("Loading integrations…")).to_have_count(0)
    screenshot(page, "embedding-01-origin-not-allowed")
    # The developer reads the cause and the fix in the console, once; not "check your connection".
    explained = [e for e in errors if "is not allowed to use platform" in e]
    assert len(explained) == 1, errors
    assert app.origin in explained[0] and "Allowed web origins" in explained[0]
    assert not any("Check your connection" in e for e in errors)
    assert page.evaluate("xkit.loginError.code") == "origin_not_allowed"

    # Allowed now: the same page loads the catalog.
    update_platform(xkit_environment, app.platform.slug, allowed_origins=[app.origin])
    page.reload()
    expect(page.locator('.card[data-connector="outlook-email"]')).to_be_visible()
    page.context.close()


# --- the catalog as a modal dialog ------------------------------------------------------------

MODAL_BODY = """<h1 class="app-title">Settings</h1>
<button id="open-all">Manage integrations</button>
<button id="connect-outlook">Connect Outlook</button>
<p><a href="#after">A link after the buttons</a></p>"""
MODAL_SCRIPT = """
  xkit.login(window.getToken);
  window.closes = [];
  xkit.on("catalog:close", (detail) => window.closes.push({
      reason: detail.reason, connector: detail.connector,
      connection: detail.connection && detail.connection.id}));
  document.getElementById("open-all").addEventListener("click",
      () => { window.dialog = xkit.openCatalog(); });
  document.getElementById("connect-outlook").addEventListener("click",
      () => { window.dialog = xkit.openCatalog({connector: "outlook-email"}); });
"""


@pytest.mark.browser
def test_the_modal_catalog_keeps_focus_inside_and_gives_it_back(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any]) -> None:
    app.body, app.script = MODAL_BODY, MODAL_SCRIPT
    page, errors = new_page(browser)
    page.goto(app.url)
    opener = page.locator("#open-all")
    opener.focus()
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Integrations")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(dialog.locator('.card[data-connector="outlook-email"]')).to_be_visible()
    assert page.evaluate(FOCUSED)["text"] == "Close"
    screenshot(page, "embedding-02-modal", doc="catalog-modal", crop=False)

    # Tab and Shift+Tab go round the dialog's controls and never reach the page behind it.
    seen = []
    for _ in range(6):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["inDialog"], focused
        seen.append(focused["text"])
    assert "Close" in seen[1:] and "Search integrations" in seen
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED)["inDialog"]

    # Escape closes it, and focus is back on the button that opened it.
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert page.evaluate(FOCUSED)["id"] == "open-all"
    assert page.evaluate("window.closes") == [
        {"reason": "escape", "connector": None, "connection": None}]

    # The close button does the same.
    page.locator("#open-all").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)
    assert page.evaluate(FOCUSED)["id"] == "open-all"
    assert errors == []
    page.context.close()


@pytest.mark.browser
def test_the_modal_catalog_fills_a_phone_screen(browser: Browser, app: DeveloperApp,
                                                outlook: dict[str, Any]) -> None:
    app.body, app.script = MODAL_BODY, MODAL_SCRIPT
    page, errors = new_page(browser)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(app.url)
    page.locator("#open-all").click()
    dialog = page.get_by_role("dialog", name="Integrations")
    expect(dialog.locator('.card[data-connector="outlook-email"]')).to_be_visible()
    box = dialog.bounding_box()
    assert box is not None and box["width"] == 390 and box["height"] == 844
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "embedding-07-modal-phone", doc="catalog-modal-phone", crop=False)
    assert errors == []
    page.context.close()


@pytest.mark.browser
def test_connect_outlook_button_opens_the_dialog_for_one_connector_and_closes_when_done(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        microsoft: MicrosoftEmulator) -> None:
    ada = microsoft.add_user(mail="ada.modal@contoso.test", display_name="Ada Lovelace")
    app.body, app.script = MODAL_BODY, MODAL_SCRIPT
    page, errors = new_page(browser)
    page.goto(app.url)
    page.locator("#connect-outlook").click()

    dialog = page.get_by_role("dialog", name="Connect Outlook Email")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="← All integrations")).to_have_count(0)
    screenshot(page, "embedding-03-modal-one-connector")
    consent(page, microsoft, ada["id"], dialog.get_by_role("button", name="Connect", exact=True))

    expect(dialog).to_have_count(0)  # done: the dialog closed itself
    [closed] = page.evaluate("window.closes")
    assert closed["reason"] == "connected" and closed["connector"] == "outlook-email"
    assert closed["connection"]
    assert "connection:enable" in page.evaluate("window.xkitEvents.map(e => e.name)")
    assert page.evaluate(FOCUSED)["id"] == "connect-outlook"
    assert page.evaluate("window.dialog.closed.then(d => d.reason)") == "connected"
    assert errors == []
    page.context.close()


# --- cards: a Connect button, and categories ---------------------------------------------------

@pytest.mark.browser
def test_a_card_connects_in_one_click(browser: Browser, app: DeveloperApp,
                                      outlook: dict[str, Any],
                                      microsoft: MicrosoftEmulator) -> None:
    ada = microsoft.add_user(mail="ada.card@contoso.test", display_name="Ada Lovelace")
    page, errors = new_page(browser)
    page.goto(app.url)
    button = page.get_by_role("button", name="Connect Outlook Email")
    expect(button).to_be_visible()
    screenshot(page, "embedding-04-card-connect")
    consent(page, microsoft, ada["id"], button)

    card = page.locator('.card[data-connector="outlook-email"]')
    expect(card.locator(".badge")).to_have_text("Connected")
    expect(button).to_have_count(0)  # connected: the card opens the details, no extra button
    # The card itself still opens the connector's page.
    card.click()
    expect(page.locator('.connection[data-state="connected"] .account')).to_have_text(
        "ada.card@contoso.test")
    assert errors == []
    page.context.close()


@pytest.mark.browser
def test_a_card_whose_connection_broke_offers_reconnect(
        browser: Browser, connected: dict[str, str], api: httpx.Client,
        microsoft: MicrosoftEmulator, app: DeveloperApp) -> None:
    microsoft.revoke_refresh_tokens(connected["user_id"])
    assert api.get("/api/platform/contexts/user-1/connections/outlook-email").status_code == 409
    page, errors = new_page(browser)
    page.goto(app.url)
    reconnect = page.get_by_role("button", name="Reconnect Outlook Email")
    expect(reconnect).to_be_visible()
    expect(page.locator('.card[data-connector="outlook-email"] .badge')).to_have_text(
        "Needs attention")
    screenshot(page, "embedding-05-card-reconnect")
    with page.expect_popup():  # the user consented before: the popup goes straight back
        reconnect.click()
    expect(page.locator('.card[data-connector="outlook-email"] .badge')).to_have_text("Connected")
    expect(reconnect).to_have_count(0)
    assert errors == []
    page.context.close()


CONNECTORS = ["github", "gitlab", "notion", "asana", "zoom", "hubspot", "calendly"]


@pytest.mark.browser
def test_many_connectors_can_be_filtered_by_category(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any], api: httpx.Client) -> None:
    for provider in CONNECTORS:
        created = api.post("/api/platform/connectors", json={
            "provider": provider, "client_id": f"{provider}-client",
            "client_secret": f"{provider}-secret"})
        assert created.status_code == 201, created.text
    page, errors = new_page(browser)
    page.goto(app.url)
    expect(page.locator(".card")).to_have_count(8)
    filters = page.get_by_role("group", name="Filter by category")
    expect(filters.get_by_role("button", name="All")).to_have_attribute("aria-pressed", "true")

    filters.get_by_role("button", name="Developer tools").click()
    expect(page.locator(".card")).to_have_count(2)
    assert sorted(page.locator(".card").evaluate_all(
        "cards => cards.map(c => c.dataset.connector)")) == ["github", "gitlab"]
    expect(filters.get_by_role("button", name="Developer tools")).to_have_attribute(
        "aria-pressed", "true")
    screenshot(page, "embedding-06-categories")

    filters.get_by_role("button", name="CRM").click()
    expect(page.locator(".card")).to_have_count(1)
    filters.get_by_role("button", name="All").click()
    expect(page.locator(".card")).to_have_count(8)
    page.evaluate("window.catalog.setOptions({categories: false})")  # the developer's choice
    expect(filters).to_have_count(0)
    expect(page.locator(".card")).to_have_count(8)
    assert errors == []
    page.context.close()


@pytest.mark.browser
def test_a_few_connectors_show_no_category_filter(browser: Browser, app: DeveloperApp,
                                                  outlook: dict[str, Any]) -> None:
    page, _ = new_page(browser)
    page.goto(app.url)
    expect(page.locator('.card[data-connector="outlook-email"]')).to_be_visible()
    expect(page.get_by_role("group", name="Filter by category")).to_have_count(0)
    page.context.close()


# --- the hosted catalog: a new token in the same tab -------------------------------------------

@pytest.mark.browser
def test_the_same_tab_given_a_token_in_the_fragment_shows_the_catalog(
        browser: Browser, xkit_server: XkitServer, platform: PlatformCredentials,
        outlook: dict[str, Any]) -> None:
    page, _ = new_page(browser)
    base = f"{xkit_server.url}/p/{platform.slug}"
    page.goto(f"{base}/")
    expect(page.get_by_role("alert")).to_contain_text("Open this page from")

    # The app opens its sign-in link in this tab: only the fragment changes, nothing reloads.
    token = new_end_user(xkit_server, platform).token
    page.evaluate("token => { location.hash = 'context_token=' + token; }", token)
    expect(page.locator('.card[data-connector="outlook-email"]')).to_be_visible()
    expect(page.get_by_text("Open this page from")).to_be_hidden()
    assert "context_token" not in page.url  # out of the address bar again

    # Another user's link in the same tab: that user's token, not the first one's.
    other = new_end_user(xkit_server, platform, "user-2").token
    # The fragment changes first (a navigation within the page, which expect_navigation would
    # take for the one awaited), then the page reloads itself: wait for that reload's load.
    with page.expect_event("load"):
        page.evaluate("token => { location.hash = 'context_token=' + token; }", other)
    expect(page.locator('.card[data-connector="outlook-email"]')).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('xkit:context_token:{platform.slug}')") == other
    page.context.close()
