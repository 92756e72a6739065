"""Exactly one refresh per expiry, across concurrent requests and several xkit processes.

The emulator runs in strict rotation: a refresh token used twice revokes the whole grant, as
oidc-provider, Xero or some Salesforce setups do. A double refresh would therefore show up as
a broken connection, not just as an extra request.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.emulators.oidc_provider.fixture import OidcProvider
from tests.support.database import backend
from tests.support.flow import new_end_user, outlook_connector, sign_in_at_provider
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer

CONNECTIONS = 20
REQUESTS_PER_CONNECTION = 50


@pytest.fixture
def servers(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer, tmp_path: Path
) -> Iterator[list[XkitServer]]:
    """The session's server plus, on PostgreSQL, two more processes on the same database."""
    extra: list[XkitServer] = []
    if backend() == "postgresql":
        for number in range(2):
            copy = dataclasses.replace(xkit_environment)
            extra.append(XkitServer(copy, tmp_path / f"serve-{number}.log"))
    yield [xkit_server, *extra]
    for server in extra:
        server.stop()


def _stampede(
    servers: list[XkitServer], platform: PlatformCredentials, context_pattern: str, connector: str
) -> list[tuple[int, str, str]]:
    """CONNECTIONS x REQUESTS_PER_CONNECTION fetches, 64 at a time, spread over the servers."""

    def fetch(job: int) -> tuple[int, str, str]:
        server = servers[job % len(servers)]
        context = context_pattern.format(job % CONNECTIONS)
        with httpx.Client(base_url=server.url, auth=platform.basic_auth, timeout=120) as client:
            response = client.get(f"/api/platform/contexts/{context}/connections/{connector}")
        if response.status_code != 200:
            return response.status_code, context, response.text  # the error says why
        return response.status_code, context, response.json()["authorization"]["access_token"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        return list(pool.map(fetch, range(CONNECTIONS * REQUESTS_PER_CONNECTION)))


def _tokens_by_context(results: list[tuple[int, str, str]]) -> dict[str, set[str]]:
    tokens: dict[str, set[str]] = {}
    for _, context, token in results:
        tokens.setdefault(context, set()).add(token)
    return tokens


def test_stampede_gets_every_request_a_token_with_one_refresh_per_connection(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    servers: list[XkitServer],
    microsoft: MicrosoftEmulator,
) -> None:
    microsoft.configure(access_token_lifetime=200, strict_rotation=True)
    outlook_connector(api, xkit_server, platform, microsoft)
    for number in range(CONNECTIONS):
        mail = f"user{number}@contoso.test"
        microsoft.add_user(mail=mail, password="pw")
        end_user = new_end_user(xkit_server, platform, f"user-{number}")
        _, to_provider = end_user.start_popup("outlook-email")
        assert (
            sign_in_at_provider(to_provider, microsoft, login=mail, password="pw").status_code
            == 200
        )
    microsoft.configure(access_token_lifetime=3600)
    before = microsoft.counters()["token_requests"].get("refresh_token", 0)

    results = _stampede(servers, platform, "user-{}", "outlook-email")

    assert [r for r in results if r[0] != 200][:3] == []
    assert all(len(t) == 1 for t in _tokens_by_context(results).values()), "one token each"
    refreshes = microsoft.counters()["token_requests"]["refresh_token"] - before
    assert refreshes == CONNECTIONS
    # No grant was revoked: every connection still refreshes and works.
    for number in range(CONNECTIONS):
        again = api.get(
            f"/api/platform/contexts/user-{number}/connections/outlook-email",
            params={"force_refresh": "true"},
        )
        assert again.status_code == 200, again.text


def test_stampede_against_oidc_provider_revokes_no_grant(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    servers: list[XkitServer],
    oidc_provider: OidcProvider,
) -> None:
    """The same stampede against a real third-party server that punishes reuse."""
    client = oidc_provider.register_client(
        redirect_uris=[f"{xkit_server.url}/p/{platform.slug}/callback"]
    )
    oidc_provider.configure(access_token_ttl=60)  # under xkit's 300 s margin: must refresh
    created = api.post(
        "/api/platform/connectors",
        json={
            "provider": "oauth2",
            "slug": "acme-idp",
            "name": "Acme IdP",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "scopes": ["openid", "offline_access", "email", "api:read"],
            "settings": {
                "authorize_url": oidc_provider.authorize_url,
                "token_url": oidc_provider.token_url,
                "userinfo_url": oidc_provider.userinfo_url,
            },
        },
    )
    assert created.status_code == 201, created.text
    for number in range(CONNECTIONS):
        end_user = new_end_user(xkit_server, platform, f"idp-user-{number}")
        _, to_provider = end_user.start_popup("acme-idp")
        callback = oidc_provider.complete_authorization(
            to_provider.headers["location"], login=f"person{number}"
        )
        assert httpx.get(callback, cookies=to_provider.cookies, timeout=30).status_code == 200
    oidc_provider.configure(access_token_ttl=3600)
    oidc_provider.reset_stats()

    results = _stampede(servers, platform, "idp-user-{}", "acme-idp")

    assert [r for r in results if r[0] != 200][:3] == []
    assert all(len(tokens) == 1 for tokens in _tokens_by_context(results).values())
    assert oidc_provider.refresh_count() == CONNECTIONS
    assert oidc_provider.grants_revoked() == 0
    labels = {
        api.get(f"/api/platform/contexts/idp-user-{n}/connections/acme-idp").json()[
            "authorization"
        ]["display_label"]
        for n in range(CONNECTIONS)
    }
    assert labels == {f"person{n}@example.test" for n in range(CONNECTIONS)}
