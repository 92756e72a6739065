"""The collect step: details the end user types before OAuth, feeding the provider's URLs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.flow import back_at_xkit, collect_form, new_end_user, with_opener
from tests.support.tls import TestCertificates
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer, create_platform

TEMPLATES = Path(__file__).parent / "data" / "templates"
ORIGIN = "https://app.example.test"


@pytest.fixture
def server(
    fresh_environment: XkitEnvironment, test_certificates: TestCertificates, tmp_path: Path
) -> Iterator[XkitServer]:
    fresh_environment.extra = {
        "XKIT_PROVIDERS_DIRS": str(TEMPLATES),
        "XKIT_CA_BUNDLE": str(test_certificates.ca_cert),
        "XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS": "true",
        "XKIT_PROXY_ALLOW_PRIVATE_NETWORKS": "true",
    }
    running = XkitServer(fresh_environment, tmp_path / "serve.log")
    yield running
    running.stop()


@pytest.fixture
def setup(
    server: XkitServer, fresh_environment: XkitEnvironment, microsoft: MicrosoftEmulator
) -> PlatformCredentials:
    platform = create_platform(fresh_environment, "acme")
    microsoft.add_tenant(id="11111111-2222-3333-4444-555555555555", domains=["contoso.test"])
    app = microsoft.register_app(redirect_uris=[f"{server.url}/p/acme/callback"])
    with platform.client(server) as api:
        created = api.post(
            "/api/platform/connectors",
            json={
                "provider": "tenant-mail",
                "client_id": app["client_id"],
                "client_secret": app["secrets"][0],
                "settings": {"login_host": microsoft.base_host, "graph_host": microsoft.base_host},
            },
        )
        assert created.status_code == 201, created.text
    microsoft.add_user(
        mail="ada@contoso.test", auto_consent=True, tenant_id="11111111-2222-3333-4444-555555555555"
    )
    return platform


def _popup_start(server: XkitServer, platform: PlatformCredentials) -> tuple[str, httpx.Response]:
    user = new_end_user(server, platform, "ada")
    created = user.api("POST", "/connections", json={"connector": "tenant-mail"}).json()
    authorization_id = created["authorization"]["id"]
    link = user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
    return authorization_id, httpx.get(with_opener(link, ORIGIN))


def test_popup_asks_for_the_tenant_then_signs_in_there(
    server: XkitServer, setup: PlatformCredentials, microsoft: MicrosoftEmulator
) -> None:
    _, page = _popup_start(server, setup)
    assert page.status_code == 200 and 'id="field-tenant"' in page.text
    assert "Your organization&#39;s domain or tenant ID" in page.text

    action, hidden = collect_form(page)
    refused = httpx.post(f"{server.url}{action}", data={**hidden, "tenant": "not a tenant!"})
    assert refused.status_code == 400 and 'id="error-tenant"' in refused.text
    assert 'value="not a tenant!"' in refused.text  # what the user typed is kept
    replay = httpx.post(f"{server.url}{action}", data={**hidden, "tenant": "contoso.test"})
    assert replay.status_code == 400 and "already sent" in replay.text

    action, hidden = collect_form(refused)
    to_provider = httpx.post(f"{server.url}{action}", data={**hidden, "tenant": "contoso.test"})
    assert to_provider.status_code == 302, to_provider.text
    assert (
        f"https://{microsoft.base_host}/contoso.test/oauth2/v2.0/authorize"
        in to_provider.headers["location"]
    )
    with microsoft.client() as provider:
        back = provider.get(to_provider.headers["location"])
    assert back_at_xkit(back.headers["location"], to_provider).status_code == 200

    with setup.client(server) as api:
        connection = api.get(
            "/api/platform/contexts/ada/connections/tenant-mail", params={"force_refresh": "true"}
        )
        assert connection.status_code == 200, connection.text
        assert connection.json()["authorization"]["display_label"] == "ada@contoso.test"
        me = api.get(f"/api/platform/proxy/{connection.json()['connection']['id']}/me")
        assert me.status_code == 200
    paths = [r["path"] for r in microsoft.requests("/contoso.test/oauth2/v2.0/token")]
    assert len(paths) == 2, "code exchange and the forced refresh both used the tenant path"


def test_browser_api_takes_the_collect_step_too(
    server: XkitServer, setup: PlatformCredentials, microsoft: MicrosoftEmulator
) -> None:
    user = new_end_user(server, setup, "grace")
    created = user.api("POST", "/connections", json={"connector": "tenant-mail"}).json()
    authorization_id = created["authorization"]["id"]
    catalog = user.api("GET", "/connectors").json()["connectors"]
    assert catalog[0]["collect"][0]["name"] == "tenant"
    bad = user.api(
        "POST",
        f"/authorizations/{authorization_id}/collect",
        json={"fields": {"tenant": "no spaces allowed"}},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_field"
    good = user.api(
        "POST",
        f"/authorizations/{authorization_id}/collect",
        json={"fields": {"tenant": "contoso.test"}},
    )
    assert good.status_code == 200, good.text
    link = user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
    straight = httpx.get(with_opener(link, ORIGIN))
    assert straight.status_code == 302  # nothing left to ask: on to the provider
    assert "/contoso.test/oauth2/v2.0/authorize" in straight.headers["location"]
