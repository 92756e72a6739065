"""The oidc-provider harness: a real authorization server that punishes refresh token reuse.

These tests pin down the behaviour xkit's own tests rely on: the code flow with PKCE through our
login and consent pages, strict refresh token rotation, and that a rotated-out refresh token
coming back (even concurrently) revokes the whole grant and shows up in the counters.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulators.oidc_provider.fixture import (
    OidcProvider,
    OidcProviderError,
    node_available,
    pkce_pair,
)
from tests.support import tls
from tests.support.browser import chromium

pytestmark = pytest.mark.skipif(
    not node_available(), reason="node and npm are needed to run oidc-provider"
)

CALLBACK = "http://127.0.0.1:8000/p/acme/callback"
STATIC_CLIENT = {
    "client_id": "static-post",
    "client_secret": "static-secret",
    "redirect_uris": [CALLBACK],
    "token_endpoint_auth_method": "client_secret_post",
}


@pytest.fixture(scope="module")
def provider_process(
    tmp_path_factory: pytest.TempPathFactory, test_certificates: tls.TestCertificates
) -> Iterator[OidcProvider]:
    provider = OidcProvider.launch(
        tmp_path_factory.mktemp("oidc-provider"), test_certificates, clients=[STATIC_CLIENT]
    )
    yield provider
    provider.stop()


@pytest.fixture
def provider(provider_process: OidcProvider) -> Iterator[OidcProvider]:
    provider_process.reset_stats()
    yield provider_process
    provider_process.configure(access_token_ttl=60, offline_access_requires_prompt=False)


@pytest.fixture
def http(provider: OidcProvider) -> Iterator[httpx.Client]:
    with provider.client(timeout=10.0) as client:
        yield client


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def code_flow(
    provider: OidcProvider, http: httpx.Client, client: dict, *, login: str = "alice", **request
) -> dict:
    """Authorize with PKCE through the login and consent pages, then redeem the code."""
    verifier, challenge = pkce_pair()
    url = provider.authorization_request(
        client["client_id"], CALLBACK, state="st-1", code_challenge=challenge, **request
    )
    back = query_of(provider.complete_authorization(url, login=login))
    assert back["state"] == "st-1"
    assert back["iss"] == provider.issuer
    response = http.post(
        provider.token_url,
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 200, response.text
    return response.json()


def refresh(http: httpx.Client, provider: OidcProvider, client: dict, token: str) -> httpx.Response:
    return http.post(
        provider.token_url,
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(client["client_id"], client["client_secret"]),
    )


@pytest.fixture
def client(provider: OidcProvider) -> dict:
    return provider.register_client(redirect_uris=[CALLBACK], client_name="Acme Test App")


def test_discovery_describes_an_https_code_flow_server(provider: OidcProvider) -> None:
    discovery = provider.discovery
    assert discovery["issuer"] == provider.issuer
    assert discovery["authorization_endpoint"] == provider.authorize_url
    assert discovery["token_endpoint"] == provider.token_url
    assert discovery["userinfo_endpoint"] == provider.userinfo_url
    assert discovery["revocation_endpoint"] == provider.revocation_url
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["response_types_supported"] == ["code"]
    assert {"openid", "offline_access", "email", "profile", "api:read"} <= set(
        discovery["scopes_supported"]
    )
    assert provider.issuer.startswith("https://")


def test_code_flow_with_pkce_gives_refresh_token_and_claims(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    tokens = code_flow(provider, http, client, login="bob")

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 60
    assert tokens["refresh_token"]
    assert tokens["id_token"]
    assert set(tokens["scope"].split()) == {
        "openid",
        "offline_access",
        "email",
        "profile",
        "api:read",
    }
    me = http.get(
        provider.userinfo_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json() == {
        "sub": "bob",
        "email": "bob@example.test",
        "email_verified": True,
        "name": "Test User bob",
        "preferred_username": "bob",
    }
    stats = provider.stats()
    assert stats["token_successes"] == {"authorization_code": 1}
    assert stats["authorizations"]["success"] == 1


def test_browser_signs_in_and_consents_with_stable_selectors(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    """The pages xkit's Playwright tests click through: #login, #password, #sign-in, #approve."""
    verifier, challenge = pkce_pair()
    url = provider.authorization_request(
        client["client_id"], CALLBACK, state="st-b", code_challenge=challenge
    )
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        # nothing listens on the callback; answer it so the final navigation succeeds
        page.route(f"{CALLBACK}*", lambda route: route.fulfill(body="callback reached"))
        page.goto(url)
        page.fill("#login", "grace")
        page.fill("#password", "anything")
        page.click("#sign-in")
        page.wait_for_selector("#approve")
        assert page.inner_text("#client-name") == "Acme Test App"
        assert page.is_visible('li.scope[data-scope="api:read"]')
        page.click("#approve")
        page.wait_for_url(f"{CALLBACK}*")
        back = query_of(page.url)
        context.close()
    assert back["state"] == "st-b"
    response = http.post(
        provider.token_url,
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"]


def test_static_client_with_client_secret_post_and_no_pkce(
    provider: OidcProvider, http: httpx.Client
) -> None:
    url = provider.authorization_request(STATIC_CLIENT["client_id"], CALLBACK, state="s")
    code = query_of(provider.complete_authorization(url))["code"]
    response = http.post(
        provider.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": STATIC_CLIENT["client_id"],
            "client_secret": STATIC_CLIENT["client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"]


def test_client_that_requires_pkce_refuses_a_request_without_it(provider: OidcProvider) -> None:
    strict = provider.register_client(redirect_uris=[CALLBACK], require_pkce=True)
    url = provider.authorization_request(strict["client_id"], CALLBACK, state="s")
    back = query_of(provider.complete_authorization(url))
    assert back["error"] == "invalid_request"
    assert "PKCE" in back["error_description"]


def test_wrong_code_verifier_is_invalid_grant(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    _, challenge = pkce_pair()
    url = provider.authorization_request(client["client_id"], CALLBACK, code_challenge=challenge)
    code = query_of(provider.complete_authorization(url))["code"]
    response = http.post(
        provider.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": pkce_pair()[0],
        },
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_denying_consent_sends_access_denied(provider: OidcProvider, client: dict) -> None:
    url = provider.authorization_request(client["client_id"], CALLBACK, state="s")
    back = query_of(provider.complete_authorization(url, approve=False))
    assert back["error"] == "access_denied"
    assert back["state"] == "s"


def test_strict_offline_access_still_issues_a_refresh_token(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    """With the library's OIDC behaviour offline_access is dropped without prompt=consent;
    refresh tokens still come, because every refresh_token client gets one here."""
    provider.configure(offline_access_requires_prompt=True)
    tokens = code_flow(provider, http, client)
    assert "offline_access" not in tokens["scope"].split()
    assert tokens["refresh_token"]


def test_rotation_then_reuse_revokes_the_whole_grant(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    tokens = code_flow(provider, http, client, login="carol")
    first = refresh(http, provider, client, tokens["refresh_token"])
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != tokens["refresh_token"]

    second = refresh(http, provider, client, rotated)  # the rotated token works, and rotates
    assert second.status_code == 200, second.text
    newest = second.json()
    assert newest["refresh_token"] != rotated

    reuse = refresh(http, provider, client, rotated)  # a rotated-out token comes back
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    after = refresh(http, provider, client, newest["refresh_token"])
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"
    me = http.get(
        provider.userinfo_url, headers={"Authorization": f"Bearer {newest['access_token']}"}
    )
    assert me.status_code == 401  # the grant's access tokens went with it

    stats = provider.stats()
    assert stats["refresh"]["succeeded"] == 2
    assert stats["refresh"]["reuse_detected"] == 1
    assert stats["refresh"]["by_account"] == {"carol": 2}
    assert stats["grants_revoked"] == 1
    assert stats["grants_revoked_by_reason"] == {"refresh_token_reuse": 1}
    assert stats["revocations"][0]["account_id"] == "carol"
    assert stats["refresh_errors"] == {
        "refresh token already used": 1,
        "refresh token not found": 1,
    }
    assert stats["token_requests"] == {"authorization_code": 1, "refresh_token": 4}


def test_concurrent_refreshes_with_one_token_win_once_and_revoke_the_grant(
    provider: OidcProvider, client: dict
) -> None:
    """What xkit must never do: ten parallel refreshes of the same token."""
    minted = provider.mint(client["client_id"], "dave")
    provider.reset_stats()

    def one(_: int) -> httpx.Response:
        with provider.client(timeout=10.0) as own:
            return refresh(own, provider, client, minted["refresh_token"])

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(one, range(10)))

    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code != 200)
    with provider.client(timeout=10.0) as http:
        dead = refresh(http, provider, client, winners[0].json()["refresh_token"])
    assert dead.status_code == 400
    assert not provider.grant_exists(minted["grant_id"])
    stats = provider.stats()
    assert stats["refresh"]["succeeded"] == 1
    assert stats["grants_revoked_by_reason"] == {"refresh_token_reuse": 1}


def test_minted_tokens_work_and_refresh_once_each(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    minted = [provider.mint(client["client_id"], f"user{n}") for n in range(5)]
    me = http.get(
        provider.userinfo_url, headers={"Authorization": f"Bearer {minted[0]['access_token']}"}
    )
    assert me.json()["sub"] == "user0"
    assert provider.grant_exists(minted[0]["grant_id"])
    for tokens in minted:
        assert refresh(http, provider, client, tokens["refresh_token"]).status_code == 200
    stats = provider.stats()
    assert stats["refresh"]["succeeded"] == 5
    assert stats["grants_revoked"] == 0
    assert stats["refresh"]["by_account"] == {f"user{n}": 1 for n in range(5)}


def test_short_access_token_lifetime_expires_then_refresh_recovers(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    provider.configure(access_token_ttl=1)
    minted = provider.mint(client["client_id"], "erin")
    assert minted["expires_in"] == 1
    time.sleep(2.1)
    bearer = {"Authorization": f"Bearer {minted['access_token']}"}
    assert http.get(provider.userinfo_url, headers=bearer).status_code == 401
    fresh = refresh(http, provider, client, minted["refresh_token"])
    assert fresh.status_code == 200
    assert fresh.json()["expires_in"] == 1
    # a mint may ask for its own lifetime whatever the setting
    assert provider.mint(client["client_id"], "erin", access_token_ttl=300)["expires_in"] == 300


def test_revocation_endpoint_revokes_a_refresh_token_grant(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    minted = provider.mint(client["client_id"], "frank")
    response = http.post(
        provider.revocation_url,
        data={"token": minted["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 200
    assert refresh(http, provider, client, minted["refresh_token"]).status_code == 400
    assert provider.stats()["grants_revoked_by_reason"] == {"revocation": 1}


def test_control_api_refuses_bad_input(provider: OidcProvider) -> None:
    with pytest.raises(OidcProviderError, match="redirect_uris"):
        provider.register_client(redirect_uris=["not a url"])
    with pytest.raises(OidcProviderError, match="configured at startup"):
        provider.register_client(redirect_uris=[CALLBACK], client_id=STATIC_CLIENT["client_id"])
    with pytest.raises(OidcProviderError, match="unknown client"):
        provider.mint("nobody", "alice")
    with pytest.raises(OidcProviderError, match="unknown setting"):
        provider.configure(colour="blue")


def test_runtime_client_can_be_replaced_once_the_callback_port_is_known(
    provider: OidcProvider,
) -> None:
    first = provider.register_client(redirect_uris=["http://127.0.0.1:1/cb"], client_id="late")
    later = "http://127.0.0.1:2/p/acme/callback"
    provider.register_client(
        redirect_uris=[later], client_id="late", client_secret=first["client_secret"]
    )
    url = provider.authorization_request("late", later, state="s")
    assert query_of(provider.complete_authorization(url))["state"] == "s"
    with pytest.raises(OidcProviderError, match="redirect_uri"):
        provider.complete_authorization(
            provider.authorization_request("late", "http://127.0.0.1:1/cb")
        )


def test_redeeming_a_code_twice_revokes_its_grant(
    provider: OidcProvider, http: httpx.Client, client: dict
) -> None:
    url = provider.authorization_request(client["client_id"], CALLBACK)
    code = query_of(provider.complete_authorization(url))["code"]
    redeem = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    auth = (client["client_id"], client["client_secret"])
    tokens = http.post(provider.token_url, data=redeem, auth=auth).json()
    again = http.post(provider.token_url, data=redeem, auth=auth)
    assert again.json()["error"] == "invalid_grant"
    assert refresh(http, provider, client, tokens["refresh_token"]).status_code == 400
    assert provider.stats()["grants_revoked_by_reason"] == {"authorization_code_reuse": 1}
