"""What each auth type sends, built from the shipped templates without a server: authorize and
consent URLs, the client credentials and JWT bearer token requests, API-key and Basic headers.

The token requests go to an in-memory transport (a faked boundary, for the exact bytes); the
same requests run against the emulators in the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.emulators.services.fixture import service_account_key_file
from xkit.crypto import EncryptionKey, Keyring
from xkit.db.models import Authorization, Connector
from xkit.oauth.jwt_bearer import GRANT_TYPE, make_assertion, parse_service_account_key
from xkit.providers.registry import ProviderRegistry
from xkit.providers.schema import ProviderTemplate
from xkit.services.auth_types import AuthContext, auth_type_of
from xkit.services.auth_types.admin_consent import TENANT_ID
from xkit.services.configuration.keyring import client_secret_aad

pytestmark = pytest.mark.database_independent

CALLBACK = "https://xkit.acme.test/p/acme/callback"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
REGISTRY = ProviderRegistry.load()
KEYRING = Keyring([EncryptionKey.generate()])
ADMIN_CONSENT = [t.slug for t in REGISTRY if t.auth_type == "oauth2_admin_consent"]


def context(slug: str, *, scopes: list[str] | None = None, secret: str = "s3cret",
            settings: dict[str, str] | None = None, extras: dict[str, Any] | None = None,
            http: httpx.AsyncClient | None = None) -> AuthContext:
    template = REGISTRY.get(slug)
    connector = Connector(id="c-1", slug=slug, provider=slug, client_id="app-123",
                          scopes=list(template.default_scopes if scopes is None else scopes),
                          settings=template.resolve_settings(settings or {}))
    connector.client_secret = KEYRING.encrypt(secret, aad=client_secret_aad(connector.id))
    authorization = Authorization(id="a-1", extras=dict(extras or {}),
                                  requested_scopes=template.effective_scopes(connector.scopes))
    return AuthContext(template=template, connector=connector, authorization=authorization,
                       settings=dict(connector.settings), keyring=KEYRING,
                       http=http or httpx.AsyncClient(), redirect_uri=CALLBACK)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def recorded() -> Iterator[tuple[httpx.AsyncClient, list[httpx.Request]]]:
    """An httpx client whose provider answers every token request with a bearer token."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer",
                                         "expires_in": 3599})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    yield client, seen
    asyncio.run(client.aclose())


# -- authorization code templates --------------------------------------------------------------
# (every oauth2 template's authorize URL is checked against its provider case in
# tests/test_provider_flows.py; here the Microsoft ones this branch adds share outlook-email's)


@pytest.mark.parametrize("slug", ["outlook-calendar", "onedrive", "microsoft-teams"])
def test_microsoft_delegated_templates_keep_access_and_read_the_account_from_me(
        slug: str) -> None:
    template = REGISTRY.get(slug)
    assert template.required_scopes == ["offline_access"]
    assert "User.Read" in template.default_scopes
    assert template.account_url({}) == "https://graph.microsoft.com/v1.0/me"
    assert template.api_base_url({"graph_host": "graph.microsoft.us"}) == \
        "https://graph.microsoft.us/v1.0"
    assert template.refresh.idle_lapse_days == 90


def test_teams_is_for_work_and_school_accounts_only() -> None:
    teams = REGISTRY.get("microsoft-teams")
    assert teams.oauth2_endpoints({}).authorize_url == \
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize"
    with pytest.raises(ValueError, match="tenant"):
        teams.resolve_settings({"tenant": "common"})


# -- admin consent -----------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ADMIN_CONSENT)
def test_an_admin_first_signs_in_with_openid_to_say_which_tenant_they_belong_to(
        slug: str) -> None:
    ctx = context(slug)
    url = auth_type_of(ctx.template).authorize_url(ctx, state="st", code_challenge="c" * 43)
    assert url.startswith(
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?")
    sent = query(url)
    assert sent["scope"] == "openid profile" and sent["response_mode"] == "query"
    assert sent["client_id"] == "app-123" and sent["redirect_uri"] == CALLBACK
    assert sent["state"] == "st" and sent["code_challenge_method"] == "S256"


@pytest.mark.parametrize("slug", ["outlook-email-admin", "outlook-calendar-admin"])
def test_after_sign_in_the_admin_goes_to_their_own_tenants_consent_page(slug: str) -> None:
    ctx = context(slug, extras={TENANT_ID: TENANT})
    url = auth_type_of(ctx.template).authorize_url(ctx, state="st2", code_challenge="c" * 43)
    assert url.startswith(f"https://login.microsoftonline.com/{TENANT}/v2.0/adminconsent?")
    assert query(url) == {"client_id": "app-123", "redirect_uri": CALLBACK, "state": "st2",
                          "scope": "https://graph.microsoft.com/.default"}
    us = context(slug, extras={TENANT_ID: TENANT},
                 settings={"login_host": "login.microsoftonline.us",
                           "graph_host": "graph.microsoft.us"})
    us_url = auth_type_of(us.template).authorize_url(us, state="s", code_challenge="c" * 43)
    assert query(us_url)["scope"] == "https://graph.microsoft.us/.default"


def test_app_tokens_come_from_the_client_credentials_grant_for_the_tenant(
        recorded: tuple[httpx.AsyncClient, list[httpx.Request]]) -> None:
    http, seen = recorded
    ctx = context("outlook-email-admin", extras={TENANT_ID: TENANT}, http=http)
    tokens = asyncio.run(auth_type_of(ctx.template).renew(ctx))
    assert tokens.access_token == "at" and tokens.refresh_token is None
    (request,) = seen
    assert str(request.url) == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert {k: v[0] for k, v in parse_qs(request.content.decode()).items()} == {
        "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default",
        "client_id": "app-123", "client_secret": "s3cret"}


# -- client credentials ------------------------------------------------------------------------


def _form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _basic(request: httpx.Request) -> str:
    return base64.b64decode(request.headers["authorization"].removeprefix("Basic ")).decode()


def test_paypal_asks_its_environments_token_url_with_basic_credentials(
        recorded: tuple[httpx.AsyncClient, list[httpx.Request]]) -> None:
    http, seen = recorded
    ctx = context("paypal", settings={"api_host": "api-m.paypal.com"}, http=http)
    tokens = asyncio.run(auth_type_of(ctx.template).renew(ctx))
    assert tokens.access_token == "at" and tokens.refresh_token is None
    assert str(seen[0].url) == "https://api-m.paypal.com/v1/oauth2/token"
    assert _form(seen[0]) == {"grant_type": "client_credentials"}  # no scope: the app's
    assert _basic(seen[0]) == "app-123:s3cret"


def test_zoom_server_to_server_sends_its_own_grant_type_and_the_account_id(
        recorded: tuple[httpx.AsyncClient, list[httpx.Request]]) -> None:
    http, seen = recorded
    ctx = context("zoom-server-to-server", settings={"account_id": "Wk9PTV9BQ0NPVU5UX0lE"},
                  http=http)
    asyncio.run(auth_type_of(ctx.template).renew(ctx))
    assert str(seen[0].url) == "https://zoom.us/oauth/token"
    assert _form(seen[0]) == {"grant_type": "account_credentials",
                              "account_id": "Wk9PTV9BQ0NPVU5UX0lE"}
    assert _basic(seen[0]) == "app-123:s3cret"


def test_box_asks_for_the_connections_enterprise_with_credentials_in_the_body(
        recorded: tuple[httpx.AsyncClient, list[httpx.Request]]) -> None:
    http, seen = recorded
    ctx = context("box-client-credentials", http=http)
    ctx = dataclasses.replace(ctx, settings={**ctx.settings, "enterprise_id": "575619"})
    asyncio.run(auth_type_of(ctx.template).renew(ctx))
    assert str(seen[0].url) == "https://api.box.com/oauth2/token"
    assert "authorization" not in seen[0].headers
    assert _form(seen[0]) == {"grant_type": "client_credentials", "client_id": "app-123",
                              "client_secret": "s3cret", "box_subject_type": "enterprise",
                              "box_subject_id": "575619"}


def test_the_custom_template_sends_the_connectors_scopes_and_audience(
        recorded: tuple[httpx.AsyncClient, list[httpx.Request]]) -> None:
    http, seen = recorded
    ctx = context("oauth2-client-credentials", scopes=["read:orders", "write:orders"],
                  settings={"token_url": "https://auth.acme.test/oauth/token",
                            "audience": "https://api.acme.test",
                            "token_auth_method": "client_secret_post"}, http=http)
    asyncio.run(auth_type_of(ctx.template).renew(ctx))
    assert _form(seen[0]) == {"grant_type": "client_credentials",
                              "scope": "read:orders write:orders",
                              "audience": "https://api.acme.test",
                              "client_id": "app-123", "client_secret": "s3cret"}


# -- API keys and Basic ------------------------------------------------------------------------


def test_trello_sends_key_and_token_in_its_oauth_style_header() -> None:
    ctx = context("trello")
    key, token = "ab12" * 8, "T0ken" * 8
    values = {**ctx.settings, "api_key": key, "api_token": token}
    auth = auth_type_of(ctx.template).credentials(ctx.template, values)  # type: ignore[attr-defined]
    assert auth.headers == {
        "authorization": f'OAuth oauth_consumer_key="{key}", oauth_token="{token}"'}
    assert auth.url("https://api.trello.com/1/members/me") == "https://api.trello.com/1/members/me"


def test_stripe_sends_the_secret_key_as_the_basic_user_name() -> None:
    ctx = context("stripe")
    auth = auth_type_of(ctx.template).credentials(  # type: ignore[attr-defined]
        ctx.template, {**ctx.settings, "secret_key": "sk_test_abcdefghijkl"})
    scheme, encoded = auth.headers["authorization"].split(" ")
    assert scheme == "Basic" and base64.b64decode(encoded) == b"sk_test_abcdefghijkl:"


def test_a_query_placed_key_goes_into_the_url_not_a_header() -> None:
    template = ProviderTemplate.model_validate({
        "slug": "acme", "name": "Acme", "description": "Acme's API.",
        "mark": {"text": "AC", "background": "#112233"}, "categories": ["crm"],
        "docs_url": "https://docs.acme.test", "auth_type": "api_key",
        "collect": [{"name": "api_key", "label": "API key", "type": "secret"}],
        "api_key": {"placement": "query", "name": "api_key", "value": "{api_key}"},
        "account": {"url": "https://acme.test/me", "id": "id"}})
    auth = auth_type_of(template).credentials(template, {"api_key": "k&1"})  # type: ignore[attr-defined]
    assert auth.headers == {}
    assert auth.url("https://acme.test/me?x=1") == "https://acme.test/me?x=1&api_key=k%261"


# -- service accounts --------------------------------------------------------------------------


def test_the_assertion_carries_googles_claims_and_verifies_with_the_public_half(
        recorded: tuple[httpx.AsyncClient, list[httpx.Request]]) -> None:
    http, seen = recorded
    key_file = service_account_key_file()
    ctx = context("google-calendar-service-account", secret=json.dumps(key_file), http=http)
    asyncio.run(auth_type_of(ctx.template).token_for_subject(ctx, "sam@workspace.test"))
    (request,) = seen
    assert str(request.url) == "https://oauth2.googleapis.com/token"
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form["grant_type"] == GRANT_TYPE
    public = serialization.load_pem_private_key(key_file["private_key"].encode(), None) \
        .public_key()
    claims = jwt.decode(form["assertion"], public, algorithms=["RS256"],  # type: ignore[arg-type]
                        audience="https://oauth2.googleapis.com/token")
    assert claims["iss"] == key_file["client_email"] and claims["sub"] == "sam@workspace.test"
    assert claims["scope"] == "https://www.googleapis.com/auth/calendar.events"
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(form["assertion"])["kid"] == key_file["private_key_id"]


def test_an_assertion_signed_by_another_key_does_not_verify() -> None:
    signer = parse_service_account_key(json.dumps(service_account_key_file()))
    other = service_account_key_file()
    assertion = make_assertion(signer, audience="aud", scopes=["s"], subject=None)
    public = serialization.load_pem_private_key(other["private_key"].encode(), None).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(assertion, public, algorithms=["RS256"], audience="aud")  # type: ignore[arg-type]
