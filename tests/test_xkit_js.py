"""xkit.js and the embedded catalog in a real browser.

The developer's app lives on one origin (``http://127.0.0.1:<port>``), xkit on another; the
end user connects Outlook through the Microsoft identity platform emulator's consent page in a
real popup. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.browser import screenshot
from tests.support.database import raw_dump
from tests.support.devapp import DeveloperApp, issue_context_token
from tests.support.flow import EndUser, outlook_connector
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.db.models import Authorization
from xkit.runtime import Runtime
from xkit.services.tokens.authorization_values import decrypt_from

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def outlook(api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
            microsoft: MicrosoftEmulator) -> dict[str, Any]:
    return outlook_connector(api, xkit_server, platform, microsoft, **{
        "short_description": "Read and send email from your Outlook or Microsoft 365 mailbox.",
        "description": "Connect your mailbox so Acme can **log emails** to your deals.\n\n"
                       "- Reads messages you choose\n- Sends mail as you\n\n"
                       "[How Acme uses your mail](https://acme.example/privacy)"})


def open_page(browser: Browser, app: DeveloperApp, viewport: dict[str, int] = LAPTOP,
              on_response: Callable[[Response], None] | None = None) -> Page:
    context = browser.new_context(viewport=viewport, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    if on_response:
        context.on("response", on_response)
    page = context.new_page()
    page.goto(app.url)
    return page


def catalog_card(page: Page, slug: str) -> Any:
    return page.locator(f'.card[data-connector="{slug}"]')


def connect_through_consent(page: Page, microsoft: MicrosoftEmulator, account_id: str, *,
                            button: str = "Connect", connection: str | None = None,
                            shot: str | None = None, doc: str | None = None) -> Page:
    """Click a catalog button that opens the popup, pick the account, accept, and wait until
    the popup has closed."""
    scope = page.locator(f'[data-connection-id="{connection}"]') if connection else page
    with page.expect_popup() as opened:
        scope.get_by_role("button", name=button, exact=True).click()
    popup = opened.value
    popup.wait_for_url(f"{microsoft.base_url}/**")
    popup.locator(f"#account-{account_id}").check()
    if shot:
        screenshot(popup, shot, doc=doc)
    with popup.expect_event("close"):  # the callback page closes it, or xkit.js does
        popup.locator("button#accept").click()
    return popup


def end_user(app: DeveloperApp) -> EndUser:
    return EndUser(server=app.xkit, platform=app.platform, token=app.context_token())


def stored_tokens(environment: XkitEnvironment, authorization_id: str) -> tuple[str, str]:
    """The plaintext tokens xkit holds for an authorization, decrypted with its keyring."""
    async def _work(runtime: Runtime) -> tuple[str, str]:
        async with runtime.sessions() as session:
            authorization = await session.get(Authorization, authorization_id)
            assert authorization is not None
            access = decrypt_from(runtime.keyring, authorization, "access_token")
            refresh = decrypt_from(runtime.keyring, authorization, "refresh_token")
            assert access and refresh
            return access, refresh
    return environment.with_runtime(_work)


def test_end_user_connects_outlook_from_the_developers_app(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any], api: httpx.Client,
        microsoft: MicrosoftEmulator, xkit_environment: XkitEnvironment) -> None:
    ada = microsoft.add_user(mail="ada@contoso.test", display_name="Ada Lovelace")
    bodies: list[bytes] = []
    page = open_page(browser, app,
                     on_response=lambda r: bodies.append(r.body()) if r.status < 300 else None)

    card = catalog_card(page, "outlook-email")
    expect(card).to_contain_text("Outlook Email")
    expect(card).to_contain_text("Read and send email")
    screenshot(page, "xkit-js-01-catalog-laptop", doc="catalog-inline")
    card.click()
    expect(page.get_by_role("button", name="Connect", exact=True)).to_be_visible()
    expect(page.locator(".description strong")).to_have_text("log emails")
    screenshot(page, "xkit-js-02-connector-detail")

    connect_through_consent(page, microsoft, ada["id"], shot="xkit-js-03-consent-popup",
                            doc="connect-popup")

    row = page.locator('.connection[data-state="connected"]')
    expect(row.locator(".account")).to_have_text("ada@contoso.test")
    expect(page.locator(".notice.success")).to_have_text("Connected as ada@contoso.test.")
    expect(page.locator(".detail .badge")).to_have_text("Connected")
    screenshot(page, "xkit-js-04-connected")
    page.get_by_role("button", name="← All integrations").click()
    expect(catalog_card(page, "outlook-email").locator(".badge")).to_have_text("Connected")
    events = page.evaluate("window.xkitEvents.map(e => e.name)")
    assert "connection:enable" in events

    # The browser API: the connection is active, with the account that consented.
    user = end_user(app)
    [connection] = user.api("GET", "/connections").json()["connections"]
    assert connection["status"] == "connected"
    assert connection["authorization"]["status"] == "active"
    assert connection["authorization"]["display_label"] == "ada@contoso.test"
    from_sdk = page.evaluate("xkit.getConnection({slug: 'outlook-email'})")
    assert from_sdk["id"] == connection["id"] and from_sdk["status"] == "connected"

    # The developer's backend sees it active through the Platform API, with a token Graph
    # accepts; the tokens are stored encrypted (no plaintext in the database) and none ever
    # reached the browser.
    backend = api.get("/api/platform/contexts/user-1/connections/outlook-email")
    assert backend.status_code == 200, backend.text
    assert backend.json()["connection"]["status"] == "connected"
    assert backend.json()["authorization"]["status"] == "active"
    assert backend.json()["authorization"]["display_label"] == "ada@contoso.test"
    access, refresh = stored_tokens(xkit_environment, connection["authorization"]["id"])
    assert backend.json()["authorization"]["access_token"] == access
    with microsoft.client() as graph:
        me = graph.get(microsoft.graph_url("me"), headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 200 and me.json()["mail"] == "ada@contoso.test"
    dump = raw_dump(xkit_environment.database_url)
    assert access.encode() not in dump and refresh.encode() not in dump
    assert not [b for b in bodies if access.encode() in b or refresh.encode() in b]
    page.context.close()


def test_the_catalog_fits_a_phone(browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
                                  microsoft: MicrosoftEmulator) -> None:
    page = open_page(browser, app, PHONE)
    card = catalog_card(page, "outlook-email")
    expect(card).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "nothing overflows sideways"
    screenshot(page, "xkit-js-05-catalog-phone", doc="catalog-phone")
    card.click()
    expect(page.get_by_role("button", name="Connect", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "xkit-js-06-detail-phone")
    page.context.close()


def test_closing_the_popup_cancels_the_connection(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        microsoft: MicrosoftEmulator) -> None:
    microsoft.add_user(mail="ada@contoso.test")
    page = open_page(browser, app)
    catalog_card(page, "outlook-email").click()
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    popup = opened.value
    popup.wait_for_url(f"{microsoft.base_url}/**")
    popup.close()

    expect(page.locator(".notice.error")).to_contain_text("cancelled")
    expect(page.get_by_role("button", name="Connect", exact=True)).to_be_enabled()
    expect(page.locator(".detail .badge")).to_have_count(0)
    [connection] = end_user(app).api("GET", "/connections").json()["connections"]
    assert connection["authorization"]["status"] == "error"
    assert connection["authorization"]["error_code"] == "cancelled"
    page.context.close()


def test_declining_consent_shows_a_clear_message(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        microsoft: MicrosoftEmulator) -> None:
    ada = microsoft.add_user(mail="ada@contoso.test")
    page = open_page(browser, app)
    catalog_card(page, "outlook-email").click()
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    popup = opened.value
    popup.wait_for_url(f"{microsoft.base_url}/**")
    popup.locator(f"#account-{ada['id']}").check()
    with popup.expect_event("close"):  # xkit.js closes it once it has the answer
        popup.locator("button#cancel").click()

    notice = page.locator(".notice.error")
    expect(notice).to_have_text("You declined the permissions this integration needs. "
                                "Reconnect and accept them to continue.")
    screenshot(page, "xkit-js-07-declined")
    [connection] = end_user(app).api("GET", "/connections").json()["connections"]
    assert connection["authorization"]["error_code"] == "AADSTS65004"
    page.context.close()


def test_reconnect_keeps_the_account_and_refuses_another(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        microsoft: MicrosoftEmulator) -> None:
    ada = microsoft.add_user(mail="ada@contoso.test", display_name="Ada")
    grace = microsoft.add_user(mail="grace@contoso.test", display_name="Grace")
    page = open_page(browser, app)
    catalog_card(page, "outlook-email").click()
    connect_through_consent(page, microsoft, ada["id"])
    row = page.locator(".connection")
    expect(row.locator(".account")).to_have_text("ada@contoso.test")
    connection_id = row.get_attribute("data-connection-id")

    # The same account: still connected, same connection.
    connect_through_consent(page, microsoft, ada["id"], button="Reconnect",
                            connection=connection_id)
    expect(page.locator(".notice.success")).to_have_text("Connected as ada@contoso.test.")
    expect(page.locator(".connection")).to_have_count(1)
    expect(page.locator(f'.connection[data-connection-id="{connection_id}"]')).to_have_attribute(
        "data-state", "connected")

    # Another account: refused with a clear message; the connection keeps working as Ada.
    connect_through_consent(page, microsoft, grace["id"], button="Reconnect",
                            connection=connection_id)
    expect(page.locator(".notice.error")).to_contain_text("different account")
    expect(page.locator(".connection .account")).to_have_text("ada@contoso.test")
    expect(page.locator(".connection")).to_have_attribute("data-state", "connected")
    screenshot(page, "xkit-js-08-different-account")
    [connection] = end_user(app).api("GET", "/connections").json()["connections"]
    assert connection["id"] == connection_id and connection["status"] == "connected"
    assert connection["authorization"]["display_label"] == "ada@contoso.test"
    page.context.close()


def test_remove_a_connection(browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
                             microsoft: MicrosoftEmulator) -> None:
    ada = microsoft.add_user(mail="ada@contoso.test")
    page = open_page(browser, app)
    catalog_card(page, "outlook-email").click()
    connect_through_consent(page, microsoft, ada["id"])
    expect(page.locator(".connection")).to_have_count(1)

    page.get_by_role("button", name="Remove", exact=True).click()
    expect(page.locator(".confirm-text")).to_have_text("Remove this connection?")
    page.get_by_role("button", name="Yes, remove").click()
    expect(page.locator(".connection")).to_have_count(0)
    expect(page.locator(".notice.success")).to_have_text("The connection was removed.")
    expect(page.get_by_role("button", name="Connect", exact=True)).to_be_visible()
    assert "connection:remove" in page.evaluate("window.xkitEvents.map(e => e.name)")
    assert end_user(app).api("GET", "/connections").json() == {"connections": []}
    page.context.close()


def test_several_connections_where_the_connector_allows_them(
        browser: Browser, app: DeveloperApp, api: httpx.Client, outlook: dict[str, Any],
        microsoft: MicrosoftEmulator) -> None:
    api.patch("/api/platform/connectors/outlook-email",
              json={"multiple_connections": True}).raise_for_status()
    ada = microsoft.add_user(mail="ada@contoso.test")
    grace = microsoft.add_user(mail="grace@contoso.test")
    page = open_page(browser, app)
    catalog_card(page, "outlook-email").click()
    connect_through_consent(page, microsoft, ada["id"])
    expect(page.locator(".connection")).to_have_count(1)
    connect_through_consent(page, microsoft, grace["id"],
                            button="Connect another account")
    expect(page.locator(".connection .account")).to_have_text(
        ["ada@contoso.test", "grace@contoso.test"])
    expect(page.locator(".detail .badge")).to_have_text("2 connected")
    screenshot(page, "xkit-js-09-two-accounts")
    page.get_by_role("button", name="← All integrations").click()
    expect(catalog_card(page, "outlook-email").locator(".badge")).to_have_text("2 connected")
    page.context.close()


def test_an_expired_token_is_replaced_through_the_login_function(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        xkit_environment: XkitEnvironment, platform: PlatformCredentials) -> None:
    """The server refuses an expired token (401 context_token_expired): xkit.js asks the
    app's function once more and retries."""
    context_id = app.create_context()["context"]["id"]
    app.queued_tokens = [issue_context_token(xkit_environment, platform, context_id, -120)]
    refusals: list[Any] = []
    page = open_page(browser, app, on_response=lambda r: refusals.append(r.json()["error"])
                     if r.status == 401 else None)
    expect(catalog_card(page, "outlook-email")).to_be_visible()
    assert page.evaluate("window.tokenCalls") == 2 and app.token_requests == 2
    assert [e["code"] for e in refusals] == ["context_token_expired"]
    page.reload()
    expect(catalog_card(page, "outlook-email")).to_be_visible()
    assert page.evaluate("window.tokenCalls") == 1 and len(refusals) == 1
    page.context.close()


def test_a_token_past_its_exp_is_renewed_before_any_request(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any]) -> None:
    page = open_page(browser, app)
    expect(catalog_card(page, "outlook-email")).to_be_visible()
    assert page.evaluate("window.tokenCalls") == 1
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/api/" in r.url else None)
    # Two hours later, by the page's clock, the hour-long token has expired.
    page.clock.set_fixed_time(page.evaluate("Date.now()") + 2 * 3600 * 1000)
    connectors = page.evaluate("xkit.listConnectors()")
    assert [c["slug"] for c in connectors] == ["outlook-email"]
    assert page.evaluate("window.tokenCalls") == 2
    assert 401 not in statuses
    page.context.close()


def test_a_plain_token_and_logout(browser: Browser, app: DeveloperApp,
                                  outlook: dict[str, Any]) -> None:
    app.script = f"""
  window.session = xkit.login({app.context_token()!r});
  window.catalog = xkit.renderCatalog(document.getElementById("integrations"), {{title: "Apps"}});
"""
    page = open_page(browser, app)
    expect(catalog_card(page, "outlook-email")).to_be_visible()
    session = page.evaluate("window.session")
    assert session["context"]["external_id"] == "user-1"
    assert page.evaluate("xkit.ready.then(s => s.platform.slug)") == app.platform.slug
    page.evaluate("xkit.logout()")
    expect(page.locator(".status-line")).to_have_text("Sign in to see your integrations.")
    error = page.evaluate("xkit.listConnectors().catch(e => ({code: e.code, name: e.name}))")
    assert error == {"code": "not_logged_in", "name": "XkitError"}
    page.context.close()


XSS_DESCRIPTION = """Safe **bold**, *emphasis* and `code <b>`.

<script>alert('script')</script>

<img src=x onerror="alert('img')">

[click me](javascript:alert('link')) and [docs](https://example.com/docs)
and [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)

- <b onmouseover="alert('bold')">hover me</b>
- second item

```
<svg onload=alert('svg')>
```
"""


def test_descriptions_never_run_script(
        browser: Browser, app: DeveloperApp, api: httpx.Client, outlook: dict[str, Any]) -> None:
    api.patch("/api/platform/connectors/outlook-email", json={
        "name": "Outlook <img src=x onerror=alert('name')>",
        "short_description": "<script>alert('short')</script> mail",
        "description": XSS_DESCRIPTION}).raise_for_status()
    page = open_page(browser, app)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    card = catalog_card(page, "outlook-email")
    expect(card).to_contain_text("<script>alert('short')</script> mail")
    card.click()
    description = page.locator(".description")
    expect(description).to_contain_text("<script>alert('script')</script>")
    expect(description).to_contain_text("<img src=x onerror=\"alert('img')\">")
    expect(description.locator("strong")).to_have_text("bold")
    expect(description.locator("em")).to_have_text("emphasis")
    expect(description.locator("code").first).to_have_text("code <b>")
    expect(description.locator("li")).to_have_count(2)
    expect(description).to_contain_text("click me and docs and data")
    assert description.locator("a").evaluate_all("links => links.map(a => a.href)") == [
        "https://example.com/docs"]
    # (the provider's mark is the one picture in a connector's page, from xkit's origin)
    assert page.locator(".detail script, .detail img:not(.mark > img), .detail svg, "
                        ".detail b").count() == 0
    assert page.locator(".detail [onerror], .detail [onmouseover], .detail [onload]").count() == 0
    description.get_by_text("click me").click()
    description.get_by_text("hover me").hover()
    page.wait_for_timeout(300)
    screenshot(page, "xkit-js-10-unsafe-description")
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('img, script:not([src])').length") == 1, \
        "only the app's own inline script"
    page.context.close()


def test_the_catalog_element_with_filter_theme_and_no_search(
        browser: Browser, app: DeveloperApp, api: httpx.Client, outlook: dict[str, Any]) -> None:
    api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": "tickets", "name": "Acme Tickets",
        "short_description": "Sync support tickets.", "client_id": "tickets-client",
        "client_secret": "tickets-secret", "scopes": ["tickets.read"],
        "settings": {"authorize_url": "https://tickets.example.test/oauth/authorize",
                     "token_url": "https://tickets.example.test/oauth/token"}}).raise_for_status()
    app.body = """
<style>xkit-catalog { --xkit-primary: #0b7285; --xkit-radius: 4px; }</style>
<xkit-catalog heading="Connect your tools" search="false" connectors="outlook-email"></xkit-catalog>
<h2 id="all">Everything</h2>
<div id="everything"></div>
"""
    app.script = """
  xkit.login(window.getToken);
  window.everything = xkit.renderCatalog(document.getElementById("everything"),
                                         {title: "", theme: {primary: "#7048e8"}});
"""
    page = open_page(browser, app)
    element = page.locator("xkit-catalog")
    expect(element.locator(".title")).to_have_text("Connect your tools")
    expect(element.locator(".card")).to_have_count(1)
    expect(element.locator(".search")).to_be_hidden()
    element.locator(".card").click()
    connect = element.get_by_role("button", name="Connect", exact=True)
    expect(connect).to_have_css("background-color", "rgb(11, 114, 133)")
    expect(connect).to_have_css("border-radius", "4px")

    everything = page.locator("#everything")
    expect(everything.locator(".card")).to_have_count(2)
    expect(everything.locator(".title")).to_be_hidden()
    search = everything.get_by_role("searchbox", name="Search integrations")
    search.fill("tick")
    expect(everything.locator(".card")).to_have_count(1)
    expect(everything.locator(".card")).to_contain_text("Acme Tickets")
    search.fill("zzz")
    expect(everything.locator(".empty")).to_have_text("No integrations match “zzz”.")
    search.fill("")
    everything.locator('.card[data-connector="tickets"]').click()
    expect(everything.get_by_role("button", name="Connect", exact=True)).to_have_css(
        "background-color", "rgb(112, 72, 232)")

    # Attributes are live.
    element.evaluate("e => e.setAttribute('connectors', 'outlook-email,tickets')")
    element.get_by_role("button", name="← All integrations").click()
    expect(element.locator(".card")).to_have_count(2)
    screenshot(page, "xkit-js-11-element-and-theme")
    page.context.close()


def test_redirect_mode_for_webviews(browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
                                    microsoft: MicrosoftEmulator) -> None:
    ada = microsoft.add_user(mail="ada@contoso.test")
    app.body = '<button id="connect">Connect Outlook</button>'
    app.script = """
  xkit.login(window.getToken);
  window.result = xkit.ready.then(() => xkit.handleRedirect());
  document.getElementById("connect").addEventListener("click", () => {
    const returnUrl = location.origin + "/?tab=integrations";
    xkit.connect("outlook-email", {mode: "redirect", returnUrl});
  });
"""
    page = open_page(browser, app)
    assert page.evaluate("window.result") is None
    page.get_by_role("button", name="Connect Outlook").click()
    page.wait_for_url(f"{microsoft.base_url}/**")
    page.locator(f"#account-{ada['id']}").check()
    page.locator("button#accept").click()
    page.wait_for_url(f"{app.origin}/?tab=integrations*")
    connection = page.evaluate("window.result")
    assert connection["status"] == "connected"
    assert connection["authorization"]["display_label"] == "ada@contoso.test"
    assert page.url == f"{app.origin}/?tab=integrations", "the result is taken out of the URL"
    assert page.evaluate("window.xkitEvents.map(e => e.name)").count("connection:enable") == 1
    page.context.close()


def test_sdk_errors_carry_codes(browser: Browser, app: DeveloperApp,
                                outlook: dict[str, Any]) -> None:
    page = open_page(browser, app)
    expect(catalog_card(page, "outlook-email")).to_be_visible()
    missing = page.evaluate("xkit.getConnector('nope').catch(e => [e.code, e.status])")
    assert missing == ["connector_not_found", 404]
    assert page.evaluate("xkit.getConnection({slug: 'outlook-email'})") is None
    gone = page.evaluate("xkit.getConnection({id: 'nope'}).catch(e => e.code)")
    assert gone == "connection_not_found"
    page.context.close()
