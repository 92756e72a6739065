"""The Custom OAuth 2.0 connector against a provider that follows OpenID Connect Core §11.

panva's oidc-provider, set to its library behaviour: ``offline_access`` is granted only when
the authorize request carries ``prompt=consent``, and only a grant holding it gets a refresh
token. A new user's connector (no extra parameters) connects, but the connection says why it
will lapse; one with the extra authorize parameter ``prompt=consent`` gets a refresh token that
a forced refresh then uses.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulators.oidc_provider.fixture import OidcProvider
from tests.support.browser import Dashboard, create_admin
from tests.support.flow import back_at_xkit, new_end_user
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer

CONNECTOR = "acme-idp"
TOKEN_PATH = f"/api/platform/contexts/ada/connections/{CONNECTOR}"


@pytest.fixture
def strict_provider(oidc_provider: OidcProvider) -> Iterator[OidcProvider]:
    """The provider as oidc-provider ships: OIDC Core §11 to the letter (then put back). Its
    access tokens live an hour, longer than xkit's refresh margin, so a fetch is no refresh."""
    before = oidc_provider.settings()
    oidc_provider.configure(offline_access_requires_prompt=True, access_token_ttl=3600,
                            refresh_token_requires_offline_access=True)
    try:
        yield oidc_provider
    finally:
        oidc_provider.configure(**{key: before[key] for key in (
            "offline_access_requires_prompt", "access_token_ttl",
            "refresh_token_requires_offline_access")})


def _connector(api: httpx.Client, server: XkitServer, platform: PlatformCredentials,
               oidc: OidcProvider, **settings: str) -> httpx.Response:
    client = oidc.register_client(redirect_uris=[f"{server.url}/p/{platform.slug}/callback"])
    return api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": CONNECTOR, "name": "Acme IdP",
        "client_id": client["client_id"], "client_secret": client["client_secret"],
        "scopes": ["openid", "offline_access", "email"],
        "settings": {"authorize_url": oidc.authorize_url, "token_url": oidc.token_url,
                     "userinfo_url": oidc.userinfo_url, **settings}})


def _connect(server: XkitServer, platform: PlatformCredentials,
             oidc: OidcProvider) -> tuple[dict[str, Any], dict[str, str]]:
    """Ada connects through the popup; the browser API's connection, and what the authorize
    URL asked for."""
    end_user = new_end_user(server, platform, "ada")
    _, to_provider = end_user.start_popup(CONNECTOR)
    asked = {k: v[0] for k, v in parse_qs(urlsplit(to_provider.headers["location"]).query).items()}
    callback = oidc.complete_authorization(to_provider.headers["location"], login="ada")
    result = back_at_xkit(callback, to_provider)
    assert result.status_code == 200 and "Connected" in result.text, result.text
    listed = end_user.api("GET", "/connections").json()["connections"]
    assert len(listed) == 1
    return listed[0], asked


def _dashboard(environment: XkitEnvironment, server: XkitServer,
               platform: PlatformCredentials) -> Dashboard:
    email = f"dev-{secrets.token_hex(4)}@example.test"
    create_admin(environment, email, platform_slugs=(platform.slug,))
    dashboard = Dashboard(server)
    dashboard.log_in(email)
    return dashboard


def _dashboard_panel(environment: XkitEnvironment, server: XkitServer,
                     platform: PlatformCredentials) -> str:
    with _dashboard(environment, server, platform) as dashboard:
        found = dashboard.get(f"/admin/p/{platform.slug}/contexts", params={"q": "ada"}).text
        link = re.search(rf'href="(/admin/p/{platform.slug}/contexts/[^"]+)"', found)
        assert link, found
        return dashboard.get(link.group(1)).text


def test_without_prompt_consent_it_connects_and_warns_that_no_refresh_token_came(
        api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
        xkit_environment: XkitEnvironment, strict_provider: OidcProvider) -> None:
    assert _connector(api, xkit_server, platform, strict_provider).status_code == 201
    log_before = len(xkit_server.output())
    connection, asked = _connect(xkit_server, platform, strict_provider)

    assert "prompt" not in asked
    assert connection["status"] == "connected"
    warning_codes = [w["code"] for w in connection["authorization"]["warnings"]]
    assert warning_codes == ["no_refresh_token"]  # the browser API (what xkit.js resolves with)
    assert "prompt=consent" in connection["authorization"]["warnings"][0]["message"]

    token = api.get(TOKEN_PATH)  # the Platform API: the token works now, and says it will lapse
    assert token.status_code == 200, token.text
    assert token.json()["authorization"]["access_token"]
    assert [w["code"] for w in token.json()["connection"]["authorization"]["warnings"]] \
        == ["no_refresh_token"]
    assert "_warnings" not in token.json()["authorization"]["extras"]
    listed = api.get("/api/platform/contexts/ada/connections").json()["connections"]
    assert [w["code"] for w in listed[0]["connection"]["authorization"]["warnings"]] \
        == ["no_refresh_token"]

    panel = _dashboard_panel(xkit_environment, xkit_server, platform)
    assert 'data-code="no_refresh_token"' in panel
    assert "offline_access was asked for" in panel

    logged = [line for line in xkit_server.output()[log_before:].splitlines()
              if "no_refresh_token" in line]
    assert len(logged) == 1 and "WARNING" in logged[0], logged  # once, not on every read
    assert "offline_access was asked for" in logged[0]
    # As the warning said: the first renewal needs the user back.
    forced = api.get(TOKEN_PATH, params={"force_refresh": "true"})
    assert forced.status_code == 409 and forced.json()["error"]["code"] == "reconnect_required"


def test_with_prompt_consent_as_an_extra_parameter_a_refresh_token_comes_and_renews(
        api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
        xkit_environment: XkitEnvironment, strict_provider: OidcProvider) -> None:
    created = _connector(api, xkit_server, platform, strict_provider,
                         extra_authorize_params="prompt=consent")
    assert created.status_code == 201, created.text
    assert created.json()["settings"]["extra_authorize_params"] == "prompt=consent"
    with _dashboard(xkit_environment, xkit_server, platform) as dashboard:  # shown, editable
        page = dashboard.get(f"/admin/p/{platform.slug}/connectors/{CONNECTOR}/settings").text
    assert "Extra authorization parameters" in page and "Extra token parameters" in page
    assert 'name="setting.extra_authorize_params" type="text" value="prompt=consent"' in page
    log_before = len(xkit_server.output())
    connection, asked = _connect(xkit_server, platform, strict_provider)

    assert asked["prompt"] == "consent"
    assert connection["status"] == "connected"
    assert connection["authorization"]["warnings"] == []
    assert "offline_access" in connection["authorization"]["granted_scopes"]

    first = api.get(TOKEN_PATH).json()["authorization"]["access_token"]
    before = strict_provider.refresh_count()
    forced = api.get(TOKEN_PATH, params={"force_refresh": "true"})
    assert forced.status_code == 200, forced.text
    assert forced.json()["authorization"]["access_token"] not in (None, first)
    assert strict_provider.refresh_count() == before + 1
    assert "no_refresh_token" not in xkit_server.output()[log_before:]


@pytest.mark.parametrize(("setting", "value", "named"), [
    ("extra_authorize_params", "state=mine", "state"),
    ("extra_authorize_params", "prompt=consent&redirect_uri=https%3A%2F%2Fe.test", "redirect_uri"),
    ("extra_authorize_params", "code_challenge=x", "code_challenge"),
    ("extra_token_params", "grant_type=password", "grant_type"),
    ("extra_token_params", "client_id=other", "client_id"),
])
def test_parameters_xkit_sends_itself_are_refused_naming_the_setting(
        api: httpx.Client, setting: str, value: str, named: str) -> None:
    refused = api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": "acme-refused", "name": "Acme",
        "settings": {"authorize_url": "https://idp.example.test/authorize",
                     "token_url": "https://idp.example.test/token", setting: value}})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert f"settings.{setting}" in str(body["error"]["details"]), body
    assert f"'{named}' is set by xkit" in refused.text
    assert api.get("/api/platform/connectors/acme-refused").status_code == 404
