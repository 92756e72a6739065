"""Fresh tokens and removal with a Custom OAuth 2.0 connector on oidc-provider."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.emulators.oidc_provider.fixture import OidcProvider
from tests.support.flow import connected_to_oidc_provider
from tests.support.xkit import PlatformCredentials, XkitServer


def _connect(
    api: httpx.Client,
    platform: PlatformCredentials,
    server: XkitServer,
    oidc: OidcProvider,
    *,
    revoke_url: str,
) -> str:
    connected_to_oidc_provider(api, server, platform, oidc, "ada", revoke_url=revoke_url)
    connection = api.get("/api/platform/contexts/ada/connections/acme-idp").json()
    assert connection["authorization"]["display_label"] == "ada@example.test"
    return str(connection["connection"]["id"])


def test_removal_revokes_the_grant_at_the_provider(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    oidc_provider: OidcProvider,
) -> None:
    oidc_provider.reset_stats()
    connection_id = _connect(
        api, platform, xkit_server, oidc_provider, revoke_url=oidc_provider.revocation_url
    )
    removed = api.delete(f"/api/platform/connections/{connection_id}")
    assert removed.status_code == 200
    assert removed.json()["revocation"] == {"attempted": True, "succeeded": True}
    assert oidc_provider.stats()["grants_revoked_by_reason"].get("revocation", 0) == 1
    assert api.get(f"/api/platform/connections/{connection_id}").status_code == 404


def test_removal_succeeds_when_revocation_fails(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    oidc_provider: OidcProvider,
) -> None:
    connection_id = _connect(
        api,
        platform,
        xkit_server,
        oidc_provider,
        revoke_url=f"{oidc_provider.issuer}/no-such-endpoint",
    )
    removed = api.delete(f"/api/platform/connections/{connection_id}")
    assert removed.status_code == 200
    body = removed.json()
    assert body["deleted"] is True
    assert body["revocation"]["attempted"] is True and body["revocation"]["succeeded"] is False
    assert api.get(f"/api/platform/connections/{connection_id}").status_code == 404


@pytest.mark.database_independent
def test_template_token_extras_reach_the_oauth_client() -> None:
    from xkit.crypto import EncryptionKey, Keyring
    from xkit.db.models import Connector
    from xkit.providers.registry import ProviderRegistry
    from xkit.services.configuration.keyring import client_secret_aad
    from xkit.services.tokens.provider_http import oauth_client

    template = ProviderRegistry.load().get("oauth2")
    assert template.oauth2 is not None
    template = template.model_copy(
        update={"oauth2": template.oauth2.model_copy(update={"token_extras": ["instance_url"]})}
    )
    keyring = Keyring([EncryptionKey.generate()])
    connector = Connector(
        id="c1",
        slug="x",
        provider="oauth2",
        client_id="cid",
        settings={"authorize_url": "https://a.test/a", "token_url": "https://a.test/t"},
    )
    connector.client_secret = keyring.encrypt("s", aad=client_secret_aad("c1"))
    assert oauth_client(template, connector, keyring).extras_to_keep == ("instance_url",)


def test_a_token_shorter_lived_than_the_margin_is_reused_for_its_first_half(
    platform: PlatformCredentials,
    default_margin_server: XkitServer,
    oidc_provider: OidcProvider,
) -> None:
    """30-second tokens under the default 300-second margin: without the cap by the token's
    own lifetime (XKIT_TOKEN_MIN_VALIDITY_SHARE, a half by default), each of these fetches
    would be a refresh."""
    server = default_margin_server
    default = oidc_provider.settings()["access_token_ttl"]
    oidc_provider.configure(access_token_ttl=30)
    try:
        with platform.client(server) as api:
            connected_to_oidc_provider(api, server, platform, oidc_provider, "brief")
            oidc_provider.reset_stats()
            path = "/api/platform/contexts/brief/connections/acme-idp"
            first = api.get(path).json()["authorization"]
            for _ in range(3):
                assert api.get(path).json()["authorization"]["access_token"] == \
                    first["access_token"]
            assert oidc_provider.refresh_count() == 0

            time.sleep(15.5)  # past half of its 30 seconds
            renewed = [api.get(path).json()["authorization"]["access_token"] for _ in range(4)]
            assert len(set(renewed)) == 1 and renewed[0] != first["access_token"]
            assert oidc_provider.refresh_count() == 1
    finally:
        oidc_provider.configure(access_token_ttl=default)
