"""xkit.js signs in with the app's own user JWT, in a real browser: panva's oidc-provider is the
app's login system, its real id_token is the JWT, its JWKS is what xkit checks it with — and no
backend call mints a context token.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.emulators.oidc_provider.fixture import OidcProvider, node_available, pkce_pair
from tests.support.browser import screenshot
from tests.support.devapp import DeveloperApp
from tests.support.xkit import PlatformCredentials, XkitServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not node_available(), reason="oidc-provider needs node and npm"),
]


def sign_in_at_the_login_system(oidc_provider: OidcProvider, app: DeveloperApp,
                                login: str) -> tuple[str, dict[str, Any]]:
    """What the app does when its user signs in: the authorization code flow with its own
    client at its login system (oidc-provider); the id_token it gets, and the client."""
    redirect_uri = f"{app.origin}/signed-in"
    client = oidc_provider.register_client(redirect_uris=[redirect_uri], client_name="Acme CRM",
                                           require_pkce=True)
    verifier, challenge = pkce_pair()
    url = oidc_provider.authorization_request(client["client_id"], redirect_uri,
                                              scope="openid profile", code_challenge=challenge)
    back = parse_qs(urlsplit(oidc_provider.complete_authorization(url, login=login)).query)
    with oidc_provider.client() as http:
        tokens = http.post(oidc_provider.token_url, data={
            "grant_type": "authorization_code", "code": back["code"][0],
            "redirect_uri": redirect_uri, "code_verifier": verifier,
        }, auth=(client["client_id"], client["client_secret"]))
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["id_token"]), client


def register_issuer(api: httpx.Client, oidc_provider: OidcProvider, audience: str) -> None:
    """The developer registers the login system once (here with the Platform API)."""
    response = api.post("/api/platform/jwt-issuers", json={
        "issuer": oidc_provider.issuer, "audience": audience,
        "jwks_url": oidc_provider.discovery["jwks_uri"], "name_claim": "name"})
    assert response.status_code == 201, response.text


def add_acme_id_connector(api: httpx.Client, xkit_server: XkitServer,
                          platform: PlatformCredentials, oidc_provider: OidcProvider) -> None:
    """A connector for users to connect in the catalog (another client at oidc-provider)."""
    client = oidc_provider.register_client(
        redirect_uris=[f"{xkit_server.url}/p/{platform.slug}/callback"],
        client_name="Acme ID", require_pkce=True)
    response = api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": "acme-id", "name": "Acme ID",
        "short_description": "Sign in with your Acme ID account.",
        "client_id": client["client_id"], "client_secret": client["client_secret"],
        "scopes": ["openid", "offline_access", "email", "profile"],
        "settings": {"authorize_url": oidc_provider.authorize_url,
                     "token_url": oidc_provider.token_url,
                     "userinfo_url": oidc_provider.userinfo_url,
                     "token_auth_method": "client_secret_basic"}})
    assert response.status_code == 201, response.text


def page_with_user_jwt(app: DeveloperApp, id_token: str) -> None:
    """The app's page hands xkit.js the JWT it already has; its backend is never asked."""
    app.script = f"""
  window.appIdToken = {json.dumps(id_token)};
  xkit.login({{userJwt: async () => window.appIdToken}});
  window.catalog = xkit.renderCatalog(document.getElementById("integrations"));
"""


def test_the_catalog_signs_in_with_an_oidc_provider_id_token_and_connects(
        browser: Browser, app: DeveloperApp, api: httpx.Client, xkit_server: XkitServer,
        platform: PlatformCredentials, oidc_provider: OidcProvider) -> None:
    id_token, client = sign_in_at_the_login_system(oidc_provider, app, login="ada")
    register_issuer(api, oidc_provider, audience=client["client_id"])
    add_acme_id_connector(api, xkit_server, platform, oidc_provider)
    page_with_user_jwt(app, id_token)

    context = browser.new_context(viewport={"width": 1280, "height": 860},
                                  ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(app.url)
    card = page.locator('.card[data-connector="acme-id"]')
    expect(card).to_be_visible()
    session = page.evaluate("xkit.ready")
    assert session["context"]["external_id"] == "ada"  # the id_token's sub
    screenshot(page, "xkit-js-user-jwt-01-catalog")

    card.click()
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect", exact=True).click()
    popup = opened.value
    popup.wait_for_url(f"{oidc_provider.issuer}/interaction/**")
    popup.locator("#login").fill("ada")
    popup.locator("#password").fill("anything")
    popup.locator("#sign-in").click()
    with popup.expect_event("close"):
        popup.locator("#approve").click()
    expect(page.locator('.connection[data-state="connected"] .account')).to_have_text(
        "ada@example.test")
    screenshot(page, "xkit-js-user-jwt-02-connected")

    assert app.token_requests == 0  # no context token from the app's backend
    created = api.get("/api/platform/contexts/ada")
    assert created.status_code == 200, created.text
    assert created.json()["external_name"] == session["context"]["external_name"]
    fetched = api.get("/api/platform/contexts/ada/connections/acme-id")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["authorization"]["status"] == "active"
    assert id_token not in xkit_server.output()
    context.close()


def test_a_refused_id_token_is_explained_in_the_console(
        browser: Browser, app: DeveloperApp, api: httpx.Client,
        oidc_provider: OidcProvider) -> None:
    id_token, _ = sign_in_at_the_login_system(oidc_provider, app, login="mallory")
    register_issuer(api, oidc_provider, audience="another-client")  # not the token's aud
    page_with_user_jwt(app, id_token)

    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    with page.expect_console_message(
            lambda m: m.type == "error" and "jwt_audience" in m.text) as logged:
        page.goto(app.url)
    assert "another-client" in logged.value.text  # what the developer must fix
    assert id_token not in logged.value.text
    assert api.get("/api/platform/contexts/mallory").status_code == 404
    context.close()
