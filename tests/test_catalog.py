"""The hosted catalog at ``{base}/``: the page a developer links to instead of embedding.

The developer's app sends the end user to ``{base}/#context_token=…``; with no usable token the
page sends them to the platform's ``login_redirect_url`` with ``?next=``, and that app sends
them back with a fresh token in the fragment.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.browser import screenshot
from tests.support.devapp import (
    DeveloperApp,
    issue_context_token,
    update_platform,
)
from tests.support.flow import new_end_user, outlook_connector
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer

LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
BRANDING = {"primary_color": "#0b7285", "background_color": "#f3f6f8", "logo_url": None,
            "powered_by": True}


@pytest.fixture
def outlook(api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
            microsoft: MicrosoftEmulator) -> dict[str, Any]:
    return outlook_connector(api, xkit_server, platform, microsoft, **{
        "short_description": "Read and send email from your Outlook or Microsoft 365 mailbox.",
        "description": "Log emails to your deals.\n\n1. Connect\n2. Pick folders"})


def base_of(server: XkitServer, platform: PlatformCredentials) -> str:
    return f"{server.url}/p/{platform.slug}"


# --- over HTTP ---------------------------------------------------------------------------------

def test_xkit_js_is_served_for_each_platform(xkit_server: XkitServer,
                                             platform: PlatformCredentials) -> None:
    response = httpx.get(f"{base_of(xkit_server, platform)}/xkit.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "class Xkit" in response.text and "renderCatalog" in response.text
    assert httpx.get(f"{xkit_server.url}/p/no-such-platform/xkit.js").status_code == 404


def test_hosted_page_is_a_branded_shell_with_a_strict_csp(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer,
        platform: PlatformCredentials) -> None:
    update_platform(xkit_environment, platform.slug, name="Acme <CRM>",
                    branding={**BRANDING, "logo_url": "https://acme.example/logo.png"})
    base = base_of(xkit_server, platform)
    page = httpx.get(f"{base}/")
    assert page.status_code == 200
    assert "Acme &lt;CRM&gt;" in page.text and "<CRM>" not in page.text
    assert 'src="https://acme.example/logo.png"' in page.text
    assert "--page: #f3f6f8" in page.text and "Powered by xkit" in page.text
    csp = page.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp).group(1)  # type: ignore[union-attr]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "connect-src 'self'" in csp
    assert "frame-ancestors 'self' https://app.example.test" in csp
    assert page.text.count(f'nonce="{nonce}"') == 3  # the style, xkit.js, the page's script
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"

    assert httpx.get(f"{base}/connectors/outlook-email").status_code == 200
    bare = httpx.get(base)
    assert bare.status_code == 308 and bare.headers["location"] == f"{base}/"
    assert httpx.get(f"{xkit_server.url}/p/no-such-platform/").status_code == 404

    update_platform(xkit_environment, platform.slug, branding={**BRANDING, "powered_by": False})
    assert "Powered by xkit" not in httpx.get(f"{base}/").text


def test_the_hosted_catalogs_own_origin_may_open_the_popup(
        api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
        microsoft: MicrosoftEmulator) -> None:
    """The hosted catalog runs on xkit's origin, which no developer lists as allowed."""
    outlook_connector(api, xkit_server, platform, microsoft)
    user = new_end_user(xkit_server, platform)
    _, to_provider = user.start_popup("outlook-email", opener_origin=xkit_server.url)
    assert to_provider.headers["location"].startswith(microsoft.base_url)
    created = user.api("POST", "/connections", json={"connector": "outlook-email"}).json()
    link = user.api("POST", f"/authorizations/{created['authorization']['id']}/popup").json()
    back = httpx.get(f"{link['url']}&return_url={xkit_server.url}/p/{platform.slug}/")
    assert back.status_code == 302
    refused = user.open_popup(created["authorization"]["id"], opener_origin="https://evil.test")
    assert refused.status_code == 403


def test_a_reconnect_in_progress_or_abandoned_keeps_the_connection_working(
        connected: dict[str, str], api: httpx.Client, platform: PlatformCredentials,
        xkit_server: XkitServer) -> None:
    """The catalog and the backend keep seeing the working credential while a reconnect runs,
    and after it was cancelled."""
    user = new_end_user(xkit_server, platform)
    [connection] = user.api("GET", "/connections").json()["connections"]
    started = user.api("POST", f"/connections/{connection['id']}/reconnect")
    assert started.status_code == 201
    attempt = started.json()["authorization"]
    assert attempt["status"] == "awaiting_callback"
    assert attempt["connection_id"] == connection["id"]

    for _ in ("while it runs", "once cancelled"):
        [now] = user.api("GET", "/connections").json()["connections"]
        assert now["status"] == "connected"
        assert now["authorization"]["display_label"] == "ada@contoso.test"
        backend = api.get("/api/platform/contexts/user-1/connections/outlook-email")
        assert backend.status_code == 200 and backend.json()["authorization"]["access_token"]
        user.api("POST", f"/authorizations/{attempt['id']}/cancel").raise_for_status()
    cancelled = user.api("GET", f"/authorizations/{attempt['id']}").json()
    assert (cancelled["status"], cancelled["error_code"]) == ("error", "cancelled")


# --- in a browser ------------------------------------------------------------------------------

def new_page(browser: Browser, viewport: dict[str, int] = LAPTOP) -> tuple[Page, list[str]]:
    """A page, and the console's complaints (CSP violations show up there)."""
    context = browser.new_context(viewport=viewport, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: complaints.append(str(e)))
    return page, complaints


@pytest.mark.browser
def test_hosted_catalog_signs_in_through_the_app_and_connects(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        microsoft: MicrosoftEmulator, xkit_environment: XkitEnvironment,
        platform: PlatformCredentials) -> None:
    update_platform(xkit_environment, platform.slug, login_redirect_url=f"{app.origin}/login",
                    branding=BRANDING)
    ada = microsoft.add_user(mail="ada@contoso.test")
    base = app.xkit_base
    page, complaints = new_page(browser)
    login_visits: list[str] = []
    page.on("request", lambda r: login_visits.append(r.url) if "/login?" in r.url else None)

    # No token: off to the app's login, which sends the user back with one in the fragment.
    page.goto(f"{base}/connectors/outlook-email")
    expect(page.get_by_role("button", name="Connect", exact=True)).to_be_visible()
    [login] = login_visits
    assert login.startswith(f"{app.origin}/login?next=")
    assert httpx.URL(login).params["next"] == f"{base}/connectors/outlook-email"
    assert page.url == f"{base}/connectors/outlook-email", "the token left the address bar"
    stored = page.evaluate(f"sessionStorage.getItem('xkit:context_token:{platform.slug}')")
    assert stored and stored.count(".") == 2
    expect(page.locator(".brand")).to_have_text(platform.slug.title())
    expect(page.get_by_role("button", name="Connect", exact=True)).to_have_css(
        "background-color", "rgb(11, 114, 133)")
    expect(page.locator(".description ol li")).to_have_count(2)

    # Connect from xkit's own origin: the popup reports back to the hosted page.
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    popup = opened.value
    popup.wait_for_url(f"{microsoft.base_url}/**")
    popup.locator(f"#account-{ada['id']}").check()
    with popup.expect_event("close"):
        popup.locator("button#accept").click()
    expect(page.locator(".connection .account")).to_have_text("ada@contoso.test")
    screenshot(page, "catalog-01-hosted-connected")

    # The list and the connector page are real URLs, with the back button.
    page.get_by_role("button", name="← All integrations").click()
    page.wait_for_url(f"{base}/")
    expect(page.locator('.card[data-connector="outlook-email"] .badge')).to_have_text("Connected")
    screenshot(page, "catalog-02-hosted-list")
    page.go_back()
    expect(page.locator(".connection .account")).to_have_text("ada@contoso.test")
    page.reload()  # the token stays for this tab
    expect(page.locator(".connection .account")).to_have_text("ada@contoso.test")
    assert len(login_visits) == 1
    assert complaints == []
    page.context.close()


@pytest.mark.browser
def test_an_expired_token_in_the_fragment_goes_back_to_the_app(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        xkit_environment: XkitEnvironment, platform: PlatformCredentials) -> None:
    update_platform(xkit_environment, platform.slug, login_redirect_url=f"{app.origin}/login")
    context_id = app.create_context()["context"]["id"]
    expired = issue_context_token(xkit_environment, platform, context_id, -60)
    page, complaints = new_page(browser, PHONE)
    page.goto(f"{app.xkit_base}/#context_token={expired}")
    expect(page.locator('.card[data-connector="outlook-email"]')).to_be_visible()
    assert app.token_requests == 1 and page.url == f"{app.xkit_base}/"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "catalog-03-hosted-phone")
    assert complaints == []
    page.context.close()


@pytest.mark.browser
def test_without_a_login_redirect_url_the_page_explains(
        browser: Browser, app: DeveloperApp, outlook: dict[str, Any],
        platform: PlatformCredentials, other_platform: PlatformCredentials,
        xkit_server: XkitServer) -> None:
    page, _ = new_page(browser)
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.json()["error"]["code"])
            if r.status == 401 else None)
    page.goto(f"{app.xkit_base}/")
    name = platform.slug.title()
    expect(page.get_by_role("alert")).to_contain_text(f"Open this page from {name}")
    expect(page.get_by_role("alert")).to_contain_text(
        f"This page needs a sign-in link from {name}.")
    screenshot(page, "catalog-04-no-token")

    # A valid token, but of another platform: the server refuses it; the same explanation.
    foreign = new_end_user(xkit_server, other_platform).token
    page.goto("about:blank")  # a fragment-only change would not load the page again
    with page.expect_response(lambda r: r.status == 401):
        page.goto(f"{app.xkit_base}/#context_token={foreign}")
    expect(page.get_by_role("alert")).to_contain_text(f"Open this page from {name}")
    assert page.evaluate(
        f"sessionStorage.getItem('xkit:context_token:{platform.slug}')") is None
    assert refused == ["invalid_context_token"]
    page.context.close()


@pytest.mark.browser
def test_a_connection_that_broke_is_marked_needs_attention(
        browser: Browser, connected: dict[str, str], api: httpx.Client,
        microsoft: MicrosoftEmulator, xkit_server: XkitServer,
        platform: PlatformCredentials) -> None:
    """Microsoft revokes the grant; the next token request finds out, and the catalog asks
    the user to reconnect."""
    microsoft.revoke_refresh_tokens(connected["user_id"])
    refused = api.get("/api/platform/contexts/user-1/connections/outlook-email")
    assert refused.status_code == 409, refused.text
    user = new_end_user(xkit_server, platform)

    page, complaints = new_page(browser)
    page.goto(f"{base_of(xkit_server, platform)}/#context_token={user.token}")
    card = page.locator('.card[data-connector="outlook-email"]')
    expect(card.locator(".badge")).to_have_text("Needs attention")
    card.click()
    expect(page.locator(".account-status")).to_contain_text("Needs attention: ")
    expect(page.get_by_role("button", name="Reconnect")).to_be_visible()
    screenshot(page, "catalog-05-needs-attention")
    assert complaints == []
    page.context.close()
