"""The connect flow completes only in the browser xkit sent to the provider (RFC 6749 §10.12).

``state`` names an authorization, not a browser: without the binding, someone who starts a
connection and gets another person to open the provider URL (and approve) would end up with
that person's account on their own connection.
"""

from __future__ import annotations

import dataclasses
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.emulators.oidc_provider.fixture import OidcProvider, node_available
from tests.support.flow import (
    APP_ORIGIN,
    follow_provider,
    new_end_user,
    outlook_connector,
    with_opener,
)
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.db.models import Authorization
from xkit.runtime import Runtime


@pytest.fixture
def acme_idp(api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
             oidc_provider: OidcProvider) -> dict[str, Any]:
    """A Custom OAuth 2.0 connector ``acme-idp`` whose client is registered at oidc-provider."""
    client = oidc_provider.register_client(
        redirect_uris=[f"{xkit_server.url}/p/{platform.slug}/callback"], client_name="Acme CRM")
    created = api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": "acme-idp", "name": "Acme IdP",
        "client_id": client["client_id"], "client_secret": client["client_secret"],
        "scopes": ["openid", "offline_access", "email"],
        "settings": {"authorize_url": oidc_provider.authorize_url,
                     "token_url": oidc_provider.token_url,
                     "userinfo_url": oidc_provider.userinfo_url}})
    assert created.status_code == 201, created.text
    return created.json()


@pytest.mark.browser
@pytest.mark.skipif(not node_available(), reason="oidc-provider needs node and npm")
def test_a_provider_url_opened_in_another_browser_connects_nothing(
        browser: Browser, acme_idp: dict[str, Any], api: httpx.Client,
        platform: PlatformCredentials, xkit_server: XkitServer,
        xkit_environment: XkitEnvironment, oidc_provider: OidcProvider) -> None:
    mallory = new_end_user(xkit_server, platform, "mallory")
    created = mallory.api("POST", "/connections", json={"connector": "acme-idp"})
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    authorization_id = created.json()["authorization"]["id"]
    link = mallory.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]

    # Mallory's browser takes the provider URL from the popup link's redirect...
    mallorys = browser.new_context(ignore_https_errors=True)
    to_provider = mallorys.request.get(with_opener(link, APP_ORIGIN), max_redirects=0)
    assert to_provider.status == 302
    provider_url = to_provider.headers["location"]
    assert provider_url.startswith(oidc_provider.issuer)

    # ...and the victim, in a browser of their own, opens it, signs in and approves.
    oidc_provider.reset_stats()
    victims = browser.new_context(ignore_https_errors=True)
    victims.set_default_timeout(15_000)
    page = victims.new_page()
    page.goto(provider_url)
    page.locator("#login").fill("victim")
    page.locator("#password").fill("anything")
    page.locator("#sign-in").click()
    page.locator("#approve").click()
    page.wait_for_url(f"{xkit_server.url}/p/{platform.slug}/callback?**")
    expect(page.locator("main")).to_contain_text("started in another browser")
    assert "Connected" not in page.content()

    # The attempt is over, with a code the app can show; the code was never redeemed.
    ended = mallory.api("GET", f"/authorizations/{authorization_id}").json()
    assert (ended["status"], ended["error_code"]) == ("error", "browser_mismatch")
    assert "another browser" in ended["error_message"]
    stats = oidc_provider.stats()
    assert "authorization_code" not in stats["token_successes"]
    assert "authorization_code" not in stats["token_errors"]

    # Mallory's backend gets neither a token nor the victim's account...
    by_id = api.get(f"/api/platform/connections/{connection_id}")
    by_slug = api.get("/api/platform/contexts/mallory/connections/acme-idp")
    for answer in (by_id, by_slug):
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["details"]["error_code"] == "browser_mismatch"
        assert "victim" not in answer.text and "access_token" not in answer.text
    [listed] = mallory.api("GET", "/connections").json()["connections"]
    assert listed["status"] == "error" and listed["authorization"]["display_label"] is None
    # ...and the victim's account is attached to nothing.
    assert _accounts_with_tokens(xkit_environment, platform) == []
    mallorys.close()
    victims.close()


def _accounts_with_tokens(environment: XkitEnvironment,
                          platform: PlatformCredentials) -> list[str | None]:
    async def _work(runtime: Runtime) -> list[str | None]:
        from sqlalchemy import or_, select

        async with runtime.sessions() as session:
            found = await session.scalars(select(Authorization.provider_account_id).where(
                Authorization.platform_id == platform.platform_id,
                or_(Authorization.provider_account_id.is_not(None),
                    Authorization.access_token.is_not(None))))
            return list(found)
    return environment.with_runtime(_work)


def _cookie(response: httpx.Response, name_prefix: str = "xkit_flow_") -> SimpleCookie:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(name_prefix)]
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(header)
    return cookie


def test_the_cookie_is_httponly_lax_scoped_to_the_callback_and_cleared_at_the_end(
        api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
        microsoft: MicrosoftEmulator) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    authorization_id, to_provider = user.start_popup("outlook-email")

    [(name, morsel)] = _cookie(to_provider).items()
    assert name == f"xkit_flow_{authorization_id}"
    assert morsel["httponly"] and not morsel["secure"]  # the public URL here is http
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == f"/p/{platform.slug}/callback"
    assert 0 < int(morsel["max-age"]) <= 600
    assert len(morsel.value) >= 40 and morsel.value not in to_provider.headers["location"]

    result = follow_provider(to_provider, microsoft)
    assert result.status_code == 200
    [(_, cleared)] = _cookie(result).items()
    assert cleared.key == name and int(cleared["max-age"]) == 0
    assert cleared["path"] == f"/p/{platform.slug}/callback"


def test_the_cookie_is_secure_when_xkit_is_reached_over_https(
        xkit_environment: XkitEnvironment, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, tmp_path: Path) -> None:
    public = "https://xkit.acme.test"
    behind_tls = dataclasses.replace(xkit_environment, extra={
        **(xkit_environment.extra or {}), "XKIT_PUBLIC_URL": public})
    server = XkitServer(behind_tls, tmp_path / "https.log")
    try:
        with platform.client(server) as api:
            outlook_connector(api, server, platform, microsoft)
        user = new_end_user(server, platform)
        authorization_id = user.new_authorization("outlook-email")
        link = user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
        assert link.startswith(public)
        to_provider = httpx.get(with_opener(link.replace(public, server.url), APP_ORIGIN))
        assert to_provider.status_code == 302, to_provider.text
        [(_, morsel)] = _cookie(to_provider).items()
        assert morsel["secure"] and morsel["httponly"] and morsel["samesite"].lower() == "lax"
    finally:
        server.stop()


def test_several_connections_in_flight_in_one_browser_all_complete(
        api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
        microsoft: MicrosoftEmulator) -> None:
    """One cookie per authorization: a second Connect does not undo the first."""
    outlook_connector(api, xkit_server, platform, microsoft, slug="outlook-a")
    outlook_connector(api, xkit_server, platform, microsoft, slug="outlook-b")
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    with httpx.Client(timeout=30) as one_browser, microsoft.client() as provider:
        backs = []
        for slug in ("outlook-a", "outlook-b"):
            authorization_id = user.new_authorization(slug)
            link = user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
            to_provider = one_browser.get(with_opener(link, APP_ORIGIN))
            assert to_provider.status_code == 302, to_provider.text
            backs.append(provider.get(to_provider.headers["location"]).headers["location"])
        bindings = {c.name for c in one_browser.cookies.jar if c.name.startswith("xkit_flow_")}
        assert len(bindings) == 2  # one each: the second did not replace the first
        for back in reversed(backs):  # the first one started finishes last
            assert one_browser.get(back).status_code == 200
    statuses = [c["status"] for c in user.api("GET", "/connections").json()["connections"]]
    assert statuses == ["connected", "connected"]


def test_a_callback_without_the_cookie_ends_the_attempt_without_redeeming_the_code(
        api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
        microsoft: MicrosoftEmulator) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    authorization_id, to_provider = user.start_popup("outlook-email")
    with microsoft.client() as provider:
        back = provider.get(to_provider.headers["location"]).headers["location"]
    microsoft.clear_requests()
    elsewhere = httpx.get(back, cookies={f"xkit_flow_{authorization_id}": "guessed"})
    assert elsewhere.status_code == 400 and "another browser" in elsewhere.text
    assert "Traceback" not in elsewhere.text
    assert not [r for r in microsoft.requests() if r["path"].endswith("/token")]
    ended = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert (ended["status"], ended["error_code"]) == ("error", "browser_mismatch")
    # The state is spent: the right browser arriving afterwards cannot revive the attempt.
    late = httpx.get(back, cookies=to_provider.cookies)
    assert late.status_code == 400 and "already used" in late.text
