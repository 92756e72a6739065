"""The client credentials auth type end to end, against panva's oidc-provider with its client
credentials grant on: a connector holds the app's client ID and secret, a connection is made
with one click (nobody signs in), and the backend fetches tokens that the provider accepts —
the same token while it is fresh, one new one when it nears expiry, however many ask at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.emulators.oidc_provider.fixture import OidcProvider
from tests.support.flow import new_end_user
from tests.support.xkit import PlatformCredentials, XkitServer
from xkit_client import Xkit

PROVIDER = "oauth2-client-credentials"
TTL = 6  # seconds: reused for the first 3, re-requested once after


@pytest.fixture
def server(default_margin_server: XkitServer) -> XkitServer:
    """xkit as it runs by default: a token is reused for the first half of its lifetime."""
    return default_margin_server


@pytest.fixture
def api(platform: PlatformCredentials, server: XkitServer) -> Iterator[httpx.Client]:
    with platform.client(server) as client:
        yield client


@pytest.fixture
def oidc(oidc_provider: OidcProvider) -> Iterator[OidcProvider]:
    """The provider issuing short-lived tokens for this test, and back to its default after."""
    default = oidc_provider.settings()["access_token_ttl"]
    oidc_provider.configure(access_token_ttl=TTL)
    oidc_provider.reset_stats()
    yield oidc_provider
    oidc_provider.configure(access_token_ttl=default)


def _machine_client(oidc: OidcProvider) -> dict[str, Any]:
    return oidc.register_client(redirect_uris=[], response_types=[],
                                grant_types=["client_credentials"], scope="api:read api:write")


def _connector(api: httpx.Client, oidc: OidcProvider, client: dict[str, Any], *,
               secret: str | None = None) -> dict[str, Any]:
    created = api.post("/api/platform/connectors", json={
        "provider": PROVIDER, "slug": "acme-m2m", "name": "Acme M2M",
        "client_id": client["client_id"], "client_secret": secret or client["client_secret"],
        "scopes": ["api:read"],
        "settings": {"token_url": oidc.token_url}})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _connect(server: XkitServer, platform: PlatformCredentials,
             external_id: str) -> httpx.Response:
    """Click Connect: nothing to sign in to, so the popup's start page gets the first token."""
    user = new_end_user(server, platform, external_id)
    created = user.api("POST", "/connections", json={"connector": "acme-m2m"})
    assert created.status_code == 201, created.text
    return user.open_popup(created.json()["authorization"]["id"])


def _issued(oidc: OidcProvider) -> int:
    return int(oidc.stats()["token_successes"].get("client_credentials", 0))


def _introspect(oidc: OidcProvider, client: dict[str, Any], token: str) -> dict[str, Any]:
    answer = httpx.post(oidc.introspection_url, data={"token": token},
                        auth=(client["client_id"], client["client_secret"]),
                        verify=oidc.ssl_context(), timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def test_tokens_are_fetched_cached_and_re_requested_once_near_expiry(
    api: httpx.Client, platform: PlatformCredentials, server: XkitServer,
    oidc: OidcProvider,
) -> None:
    client = _machine_client(oidc)
    connector = _connector(api, oidc, client)
    assert connector["auth_type"] == "client_credentials" and connector["ready"]

    page = _connect(server, platform, "tenant-a")
    assert page.status_code == 200, page.text
    assert "Connected" in page.text
    assert _issued(oidc) == 1  # connecting asked for the first token

    path = "/api/platform/contexts/tenant-a/connections/acme-m2m"
    first = api.get(path)
    assert first.status_code == 200, first.text
    grant = first.json()["authorization"]
    assert grant["status"] == "active" and grant["granted_scopes"] == ["api:read"]
    assert "refresh_token" not in grant and "credentials" not in grant
    seen = _introspect(oidc, client, grant["access_token"])
    assert seen["active"] is True and seen["client_id"] == client["client_id"]
    assert seen["scope"] == "api:read"

    # Fresh: every fetch in the token's first half gets the same token, and asks nothing.
    for _ in range(3):
        again = api.get(path).json()["authorization"]
        assert again["access_token"] == grant["access_token"]
    assert _issued(oidc) == 1

    # Past half its lifetime: four fetches at once, one new token for all of them.
    time.sleep(TTL / 2 + 0.5)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.get(path), range(4)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    tokens = {a.json()["authorization"]["access_token"] for a in answers}
    assert len(tokens) == 1 and grant["access_token"] not in tokens
    assert _issued(oidc) == 2
    assert _introspect(oidc, client, tokens.pop())["active"] is True

    # The Python SDK reads it like any other connection.
    with Xkit(server.url, platform.publishable_key, platform.secret_key) as sdk:
        through_sdk = sdk.get_connection("tenant-a", "acme-m2m")
    assert through_sdk.access_token in {a.json()["authorization"]["access_token"]
                                        for a in answers}
    assert _issued(oidc) == 2


def test_a_wrong_secret_fails_the_connect_with_a_clear_message(
    api: httpx.Client, platform: PlatformCredentials, server: XkitServer,
    oidc: OidcProvider,
) -> None:
    client = _machine_client(oidc)
    _connector(api, oidc, client, secret="not-the-secret")
    page = _connect(server, platform, "tenant-b")
    assert page.status_code == 400, page.text
    assert "client ID and secret" in page.text
    assert "not-the-secret" not in page.text

    fetched = api.get("/api/platform/contexts/tenant-b/connections/acme-m2m")
    assert fetched.status_code == 409, fetched.text
    error = fetched.json()["error"]
    assert error["code"] == "reconnect_required"
    assert error["details"]["error_code"] == "invalid_client"


def test_a_secret_changed_at_the_provider_answers_a_clear_error_when_renewing(
    api: httpx.Client, platform: PlatformCredentials, server: XkitServer,
    oidc: OidcProvider,
) -> None:
    client = _machine_client(oidc)
    _connector(api, oidc, client)
    assert _connect(server, platform, "tenant-c").status_code == 200
    changed = api.patch("/api/platform/connectors/acme-m2m",
                        json={"client_secret": "rotated-elsewhere"})
    assert changed.status_code == 200, changed.text

    time.sleep(TTL / 2 + 0.5)
    fetched = api.get("/api/platform/contexts/tenant-c/connections/acme-m2m")
    assert fetched.status_code == 502, fetched.text
    error = fetched.json()["error"]
    assert error["code"] == "provider_refused"
    assert "client ID and secret" in error["message"]
    assert "rotated-elsewhere" not in fetched.text


def test_a_backend_connects_a_tenant_through_the_collect_step_without_a_browser(
    api: httpx.Client, platform: PlatformCredentials, server: XkitServer,
    oidc: OidcProvider,
) -> None:
    """The per-connection value is typed (here: sent by the backend with a context token);
    a refusal leaves the collect step open, so it can be corrected and sent again."""
    client = _machine_client(oidc)
    created = api.post("/api/platform/connectors", json={
        "provider": "tenant-m2m", "client_id": client["client_id"],
        "client_secret": "wrong", "settings": {"token_url": oidc.token_url}})
    assert created.status_code == 201, created.text
    user = new_end_user(server, platform, "tenant-d")
    authorization = user.api("POST", "/connections", json={"connector": "tenant-m2m"}
                             ).json()["authorization"]["id"]

    refused = user.api("POST", f"/authorizations/{authorization}/collect",
                       json={"fields": {"tenant": "acme-eu"}})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == {
        **refused.json()["error"], "code": "invalid_client",
        "message": "Tenant M2M refused this app's credentials for that tenant."}
    assert "wrong" not in refused.text
    assert _issued(oidc) == 0

    fixed = api.patch("/api/platform/connectors/tenant-m2m",
                      json={"client_secret": client["client_secret"]})
    assert fixed.status_code == 200, fixed.text
    accepted = user.api("POST", f"/authorizations/{authorization}/collect",
                        json={"fields": {"tenant": "acme-eu"}})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active"

    fetched = api.get("/api/platform/contexts/tenant-d/connections/tenant-m2m")
    assert fetched.status_code == 200, fetched.text
    grant = fetched.json()["authorization"]
    assert grant["display_label"] == "Tenant: acme-eu"
    assert _introspect(oidc, client, grant["access_token"])["active"] is True
    assert _issued(oidc) == 1


def test_the_platform_api_connects_a_context_with_no_browser_at_all(
    api: httpx.Client, platform: PlatformCredentials, server: XkitServer, oidc: OidcProvider,
) -> None:
    client = _machine_client(oidc)
    _connector(api, oidc, client)
    assert api.post("/api/platform/connectors", json={
        "provider": "tenant-m2m", "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "settings": {"token_url": oidc.token_url}}).status_code == 201
    assert api.post("/api/platform/contexts",
                    json={"context": {"external_id": "tenant-e"}}).status_code == 201
    base = "/api/platform/contexts/tenant-e/connections"

    made = api.post(base, json={"connector": "acme-m2m"})
    assert made.status_code == 201, made.text
    assert made.json()["connection"]["status"] == "connected"
    assert "access_token" not in made.text
    with_tenant = api.post(base, json={"connector": "tenant-m2m",
                                       "fields": {"tenant": "acme-us"}})
    assert with_tenant.status_code == 201, with_tenant.text
    assert _issued(oidc) == 2
    grant = api.get(f"{base}/tenant-m2m").json()["authorization"]
    assert grant["display_label"] == "Tenant: acme-us"
    assert _introspect(oidc, client, grant["access_token"])["active"] is True

    with Xkit(server.url, platform.publishable_key, platform.secret_key) as sdk:
        sdk.create_context("tenant-g")
        through_sdk = sdk.connect("tenant-g", "tenant-m2m", fields={"tenant": "acme-jp"})
        assert through_sdk.status == "connected"
        assert sdk.get_connection("tenant-g", "tenant-m2m").access_token
    assert _issued(oidc) == 3

    typo = api.post(base, json={"connector": "tenant-m2m", "fields": {"tenant": "Not Valid"}})
    assert typo.status_code == 422 and typo.json()["error"]["code"] == "invalid_field"
    assert typo.json()["error"]["details"]["field"] == "tenant"
    extra = api.post(base, json={"connector": "acme-m2m", "fields": {"tenant": "x"}})
    assert extra.status_code == 422 and extra.json()["error"]["code"] == "nothing_to_collect"
    nobody = api.post("/api/platform/contexts/no-such-context/connections",
                      json={"connector": "acme-m2m"})
    assert nobody.status_code == 404

    api.patch("/api/platform/connectors/acme-m2m", json={"client_secret": "wrong"})
    refused = api.post(base, json={"connector": "acme-m2m"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_client"
    assert "client ID and secret" in refused.json()["error"]["message"]
    assert "wrong" not in refused.text


def test_a_connector_whose_users_sign_in_cannot_be_connected_from_the_backend(
    api: httpx.Client, platform: PlatformCredentials, server: XkitServer,
    oidc: OidcProvider,
) -> None:
    created = api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": "signs-in", "client_id": "c", "client_secret": "s",
        "settings": {"authorize_url": oidc.authorize_url, "token_url": oidc.token_url}})
    assert created.status_code == 201, created.text
    api.post("/api/platform/contexts", json={"context": {"external_id": "tenant-f"}})
    refused = api.post("/api/platform/contexts/tenant-f/connections",
                       json={"connector": "signs-in"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "browser_required"
    listed = api.get("/api/platform/contexts/tenant-f/connections").json()["connections"]
    assert listed == []  # nothing was started
