"""Every built-in OAuth template, connected end to end against its provider's documented quirks.

For each template the quirk emulator plays its provider as the template's case describes it
(``tests/provider_cases.py``): the end user connects through xkit's popup, the provider
redirects back, xkit exchanges the code the way the provider insists on, reads the account
and any extras, and the connection is active — then the backend gets the token, calls the
API through the proxy, and (where the provider issues refresh tokens) gets a refreshed one.
"""

from __future__ import annotations

import dataclasses
import html
import re
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulators.oauth_quirks.fixture import QuirkEmulator
from tests.provider_cases import CASES, CASES_BY_SLUG, ProviderCase
from tests.support.database import raw_dump
from tests.support.flow import back_at_xkit, new_end_user, with_opener
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    contributor_template_dirs,
    create_platform,
)
from xkit.oauth import OAuthClient
from xkit.providers.registry import ProviderRegistry
from xkit.providers.schema import ProviderTemplate

REGISTRY = ProviderRegistry.load(contributor_template_dirs())  # built in, and being added
OAUTH_TEMPLATES = [t for t in REGISTRY.all() if t.auth_type == "oauth2"]
APP_ORIGIN = "https://app.example.test"


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _base(url: str) -> str:
    return url.split("?", 1)[0]


# -- every template: its case, and its authorize URL -------------------------------------------


@pytest.mark.database_independent
def test_every_oauth_template_has_a_provider_case() -> None:
    missing = sorted(t.slug for t in OAUTH_TEMPLATES if t.slug not in CASES_BY_SLUG)
    assert not missing, f"add a case to tests/provider_cases.py for: {', '.join(missing)}"
    assert set(CASES_BY_SLUG) <= {t.slug for t in OAUTH_TEMPLATES}


@pytest.mark.database_independent
@pytest.mark.parametrize("template", OAUTH_TEMPLATES, ids=lambda t: t.slug)
def test_authorize_url_carries_scopes_parameters_and_pkce_as_the_template_says(
        template: ProviderTemplate) -> None:
    case = CASES_BY_SLUG.get(template.slug)
    values = {**template.resolve_settings(case.settings if case else {}),
              **template.resolve_collected(case.collect if case else {})}
    endpoints = template.oauth2_endpoints(values)
    assert template.oauth2 is not None
    chosen = list(case.scopes) if case else template.default_scopes
    scope, scope_params = template.authorize_scopes(template.effective_scopes(chosen))
    client = OAuthClient(client_id="cid", client_secret="-", authorize_url=endpoints.authorize_url,
                         token_url=endpoints.token_url, scope_separator=endpoints.scope_separator,
                         authorize_params=endpoints.authorize_params, pkce=endpoints.pkce)
    url = client.authorization_url(redirect_uri="https://xkit.test/p/acme/callback",
                                   scopes=scope, state="st", code_challenge="ch",
                                   extra_params=scope_params)
    query = _query(url)
    separator = template.oauth2.scope_separator
    required = [s for s in template.required_scopes if template.authorize_scopes([s])[0]]
    sent = query.get("scope", "").split(separator) if query.get("scope") else []
    assert sent[: len(required)] == required  # required scopes first, always
    assert ("code_challenge" in query) is template.oauth2.pkce
    for key, value in endpoints.authorize_params.items():
        assert query[key] == value
    if case is not None:
        assert _base(url) == case.authorize_url
        assert {k: query[k] for k in case.scope_params} == case.scope_params
        assert query.items() >= case.authorize_params.items()
        assert ("code_challenge" in query) is case.pkce
        assert endpoints.token_url == case.token_url


# -- every case, end to end --------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider_platform(xkit_environment: XkitEnvironment,
                      xkit_server: XkitServer) -> PlatformCredentials:
    return create_platform(xkit_environment, f"catalog-{secrets.token_hex(4)}")


@pytest.fixture
def backend(provider_platform: PlatformCredentials,
            xkit_server: XkitServer) -> Iterator[httpx.Client]:
    with provider_platform.client(xkit_server) as client:
        yield client


def _app_and_connector(case: ProviderCase, backend: httpx.Client, server: XkitServer,
                       platform: PlatformCredentials, emulator: QuirkEmulator,
                       *, refusing: bool = False) -> dict[str, str]:
    """The developer's side: an app registered at the provider, and the connector for it."""
    app = emulator.register_app(redirect_uri=f"{server.url}/p/{platform.slug}/callback",
                                profile=case.profile(refusing=refusing))
    created = backend.post("/api/platform/connectors", json={
        "provider": case.slug, "slug": case.connector_slug, "client_id": app["client_id"],
        "client_secret": app["client_secret"], "scopes": list(case.scopes),
        "settings": case.settings})
    assert created.status_code == 201, created.text
    return app


def _connect(case: ProviderCase, server: XkitServer, platform: PlatformCredentials,
             emulator: QuirkEmulator) -> tuple[str, httpx.Response]:
    """The end user's side: popup, collect step if any, provider, callback."""
    user = new_end_user(server, platform, f"user-{case.connector_slug}")
    created = user.api("POST", "/connections", json={"connector": case.connector_slug})
    assert created.status_code == 201, created.text
    link = user.api("POST", f"/authorizations/{created.json()['authorization']['id']}/popup")
    page = httpx.get(with_opener(link.json()["url"], APP_ORIGIN), timeout=30)
    if page.status_code == 200 and 'id="collect"' in page.text:
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                 page.text))
        assert action, page.text
        page = httpx.post(f"{server.url}{action.group(1)}", data={**hidden, **case.collect},
                          timeout=30)
    assert page.status_code == 302, page.text
    to_provider = page.headers["location"]
    back = emulator.visit(to_provider)
    assert back.status_code == 302, back.text
    assert "error" not in _query(back.headers["location"]), back.headers["location"]
    return to_provider, back_at_xkit(back.headers["location"], page)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_template_connects_against_its_provider_quirks(
        case: ProviderCase, backend: httpx.Client, xkit_server: XkitServer,
        provider_platform: PlatformCredentials, quirk_emulator: QuirkEmulator) -> None:
    app = _app_and_connector(case, backend, xkit_server, provider_platform, quirk_emulator)

    to_provider, result = _connect(case, xkit_server, provider_platform, quirk_emulator)
    assert result.status_code == 200, result.text

    # what the provider saw: the documented endpoints, parameters and client authentication
    seen = quirk_emulator.requests(app["client_id"])
    authorize = next(r for r in seen if r["kind"] == "authorize")
    assert f"https://{authorize['host']}{authorize['path']}" == case.authorize_url
    assert {k: authorize["query"].get(k) for k in case.scope_params} == case.scope_params
    assert authorize["query"].items() >= case.authorize_params.items()
    exchange = next(r for r in seen if r["kind"] == "token")
    assert f"https://{exchange['host']}{exchange['path']}" == case.token_url
    assert exchange["client_auth"] == ("basic" if case.client_auth == "client_secret_basic"
                                       else "post")

    # what the backend gets: an active connection with the account and the extras
    slug = case.connector_slug
    connection_url = f"/api/platform/contexts/user-{slug}/connections/{slug}"
    connection = backend.get(connection_url)
    assert connection.status_code == 200, connection.text
    body = connection.json()
    authorization = body["authorization"]
    assert authorization["status"] == "active"
    assert (authorization["provider_account_id"], authorization["display_label"]) == case.account
    assert authorization["extras"].items() >= case.extras.items(), authorization["extras"]
    assert all(authorization["extras"].get(name) for name in case.extras_present)
    secrets_seen = [app["client_secret"], authorization["access_token"],
                    *(authorization["extras"][name] for name in case.extras_present)]
    assert not [s for s in secrets_seen if s in xkit_server.output()]
    if case.extras_present:  # secret extras are encrypted at rest
        stored = raw_dump(xkit_server.environment.database_url)
        assert not [s for s in secrets_seen[2:] if s.encode() in stored]

    if case.proxy is not None:
        path, upstream = case.proxy
        proxied = backend.get(f"/api/platform/proxy/{body['connection']['id']}/{path}")
        assert proxied.status_code == 200, proxied.text
        echo = proxied.json()["echo"]
        assert f"https://{echo['host']}{echo['path']}" == upstream
        assert echo["headers"].items() >= case.proxy_headers.items()

    if case.refresh_token and case.expires_in is not None:
        refreshed = backend.get(connection_url, params={"force_refresh": "true"})
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["authorization"]["access_token"] != authorization["access_token"]
        renewal = [r for r in quirk_emulator.requests(app["client_id"])
                   if r["kind"] == "token" and r["grant_type"] == "refresh_token"]
        assert len(renewal) == 1 and renewal[0]["body_format"] == case.body_format


# -- each provider's own way of refusing ---------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if c.token_error], ids=lambda c: c.id)
def test_a_refused_code_exchange_shows_the_templates_words_for_the_providers_code(
        case: ProviderCase, backend: httpx.Client, xkit_server: XkitServer,
        provider_platform: PlatformCredentials, quirk_emulator: QuirkEmulator) -> None:
    """The provider refuses in its documented shape (RFC 6749's ``error``, or its own), and the
    user reads the template's plain words for that code, not a generic failure."""
    assert case.token_error is not None
    case = dataclasses.replace(case, variant="-".join(filter(None, (case.variant, "refused"))))
    app = _app_and_connector(case, backend, xkit_server, provider_platform, quirk_emulator,
                             refusing=True)

    _, result = _connect(case, xkit_server, provider_platform, quirk_emulator)
    message = re.search(r'<p id="message">([^<]*)</p>', result.text)
    assert result.status_code == 400 and message, result.text
    assert case.token_error.says in html.unescape(message.group(1)), message.group(1)
    assert app["client_secret"] not in result.text


@pytest.mark.database_independent
def test_every_case_shows_how_its_provider_refuses() -> None:
    """Every template comes with one documented refusal of a code exchange (the issue's bar),
    so the refusal test above runs for the whole catalog."""
    without = sorted(c.id for c in CASES if not c.variant and c.token_error is None)
    assert not without, f"give these cases a token_error: {', '.join(without)}"


# -- providers that answer something xkit cannot use -------------------------------------------


@pytest.mark.parametrize(("case", "code", "says"), [
    (dataclasses.replace(
        CASES_BY_SLUG["xero"], variant="no-tenant",
        documents=(dataclasses.replace(CASES_BY_SLUG["xero"].documents[0], json=[]),)),
     "missing_tenant_id", "choose a Xero organisation"),
    (dataclasses.replace(
        CASES_BY_SLUG["salesforce"], variant="foreign-instance",
        token_fields={**CASES_BY_SLUG["salesforce"].token_fields,
                      "instance_url": "https://evil.example.test"}),
     "invalid_instance_url", "did not say everything this connection needs"),
    (dataclasses.replace(CASES_BY_SLUG["zoom"], variant="wrong-auth",
                         client_auth="client_secret_post"),
     "invalid_client", "client ID or secret is wrong"),
    (dataclasses.replace(
        CASES_BY_SLUG["zoho-books"], variant="no-organisation",
        documents=(dataclasses.replace(CASES_BY_SLUG["zoho-books"].documents[0], json={
            "code": 0, "message": "success", "organizations": []}),)),
     "missing_organization_id", "has no Zoho Books organisation yet"),
    (dataclasses.replace(
        CASES_BY_SLUG["zoho-books"], variant="foreign-api-domain",
        token_fields={**CASES_BY_SLUG["zoho-books"].token_fields, "api_domain": "https://zoho.example.test"}),
     "invalid_api_domain", "Check that you picked the right data centre"),
    (dataclasses.replace(CASES_BY_SLUG["myob"], variant="no-company-file", callback_params={}),
     "missing_business_id", "didn't pick a MYOB company file"),
], ids=lambda value: value.id if isinstance(value, ProviderCase) else None)
def test_an_answer_the_template_cannot_use_ends_in_a_clear_error(
        case: ProviderCase, code: str, says: str, backend: httpx.Client,
        xkit_server: XkitServer, provider_platform: PlatformCredentials,
        quirk_emulator: QuirkEmulator) -> None:
    app = _app_and_connector(case, backend, xkit_server, provider_platform, quirk_emulator)

    _, result = _connect(case, xkit_server, provider_platform, quirk_emulator)
    message = re.search(r'<p id="message">([^<]*)</p>', result.text)
    assert result.status_code == 400 and message, result.text
    assert says in html.unescape(message.group(1)), message.group(1)
    assert app["client_secret"] not in result.text
    connection = backend.get(f"/api/platform/contexts/user-{case.connector_slug}"
                             f"/connections/{case.connector_slug}")
    assert connection.status_code == 409, connection.text
    assert connection.json()["error"]["details"]["error_code"] == code
