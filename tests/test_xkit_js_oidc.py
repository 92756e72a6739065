"""A Custom OAuth 2.0 connector in a real browser, against panva's oidc-provider: its own login
and consent screens, PKCE, client_secret_basic, and the account read from its userinfo endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.emulators.oidc_provider.fixture import OidcProvider, node_available
from tests.support import tls
from tests.support.browser import screenshot
from tests.support.database import raw_dump
from tests.support.devapp import DeveloperApp
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not node_available(), reason="oidc-provider needs node and npm"),
]


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory,
                  test_certificates: tls.TestCertificates) -> Iterator[OidcProvider]:
    """Served with the session's test CA, which xkit trusts through XKIT_CA_BUNDLE."""
    provider = OidcProvider.launch(tmp_path_factory.mktemp("oidc-provider"), test_certificates)
    yield provider
    provider.stop()


@pytest.fixture
def acme_id(api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
            oidc_provider: OidcProvider) -> dict[str, Any]:
    """A "Custom OAuth 2.0" connector whose client is registered at oidc-provider."""
    client = oidc_provider.register_client(
        redirect_uris=[f"{xkit_server.url}/p/{platform.slug}/callback"],
        client_name="Acme CRM", require_pkce=True,
        token_endpoint_auth_method="client_secret_basic")
    response = api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": "acme-id", "name": "Acme ID",
        "short_description": "Sign in with your Acme ID account.",
        "client_id": client["client_id"], "client_secret": client["client_secret"],
        "scopes": ["openid", "offline_access", "email", "profile", "api:read"],
        "settings": {"authorize_url": oidc_provider.authorize_url,
                     "token_url": oidc_provider.token_url,
                     "userinfo_url": oidc_provider.userinfo_url,
                     "token_auth_method": "client_secret_basic"}})
    assert response.status_code == 201, response.text
    return {"connector": response.json(), "client": client}


def test_connect_a_custom_oauth2_connector_through_oidc_provider(
        browser: Browser, app: DeveloperApp, acme_id: dict[str, Any], api: httpx.Client,
        oidc_provider: OidcProvider, xkit_environment: XkitEnvironment) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860},
                                  ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(app.url)
    page.locator('.card[data-connector="acme-id"]').click()

    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    popup = opened.value
    popup.wait_for_url(f"{oidc_provider.issuer}/interaction/**")
    expect(popup.locator("#client-name")).to_have_text("Acme CRM")
    popup.locator("#login").fill("alice")
    popup.locator("#password").fill("anything")
    popup.locator("#sign-in").click()
    expect(popup.locator("#scopes .scope")).to_contain_text(["openid", "offline_access"])
    screenshot(popup, "xkit-js-oidc-01-consent")
    with popup.expect_event("close"):
        popup.locator("#approve").click()

    expect(page.locator('.connection[data-state="connected"] .account')).to_have_text(
        "alice@example.test")
    screenshot(page, "xkit-js-oidc-02-connected")

    backend = api.get("/api/platform/contexts/user-1/connections/acme-id")
    assert backend.status_code == 200, backend.text
    authorization = backend.json()["authorization"]
    assert authorization["status"] == "active"
    assert authorization["provider_account_id"] == "alice"
    assert "offline_access" in authorization["granted_scopes"]
    with oidc_provider.client() as http:
        me = http.get(oidc_provider.userinfo_url,
                      headers={"Authorization": f"Bearer {authorization['access_token']}"})
    assert me.status_code == 200 and me.json()["sub"] == "alice"
    assert authorization["access_token"].encode() not in raw_dump(xkit_environment.database_url)
    context.close()


def test_denying_at_oidc_provider_shows_the_templates_message(
        browser: Browser, app: DeveloperApp, acme_id: dict[str, Any],
        oidc_provider: OidcProvider) -> None:
    context = browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(app.url)
    page.locator('.card[data-connector="acme-id"]').click()
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    popup = opened.value
    popup.wait_for_url(f"{oidc_provider.issuer}/interaction/**")
    popup.locator("#login").fill("bob")
    popup.locator("#sign-in").click()
    with popup.expect_event("close"):
        popup.locator("#deny").click()
    expect(page.locator(".notice.error")).to_have_text(
        "You cancelled the connection, or declined the permissions. You can try again.")
    expect(page.get_by_role("button", name="Connect", exact=True)).to_be_enabled()
    context.close()
