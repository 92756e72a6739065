"""Fixtures: a real xkit server on the selected database, and isolated platforms per test."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.emulators.oauth_quirks.fixture import QuirkEmulator
from tests.emulators.oidc_provider.fixture import OidcProvider
from tests.emulators.services.fixture import ServicesEmulator
from tests.provider_cases import provider_hosts
from tests.support.browser import chromium
from tests.support.database import backend, temporary_database
from tests.support.devapp import DeveloperApp, developer_app
from tests.support.flow import follow_provider, new_end_user, outlook_connector
from tests.support.tls import TestCertificates, make_test_certificates
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    create_platform,
    installation_settings,
)


def pytest_report_header() -> str:
    return f"xkit test database: {backend()}"


@pytest.fixture(scope="session")
def test_certificates(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    """One test CA for the session: emulators serve with it, xkit trusts it (XKIT_CA_BUNDLE)."""
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def quirk_emulator(
    tmp_path_factory: pytest.TempPathFactory, test_certificates: TestCertificates
) -> Iterator[QuirkEmulator]:
    """One configurable OAuth provider answering for every built-in template's hosts."""
    emulator = QuirkEmulator.launch(
        tmp_path_factory.mktemp("oauth-quirks"), test_certificates, hosts=provider_hosts()
    )
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def xkit_environment(
    tmp_path_factory: pytest.TempPathFactory,
    test_certificates: TestCertificates,
    quirk_emulator: QuirkEmulator,
) -> Iterator[XkitEnvironment]:
    """One installation shared by the session; tests isolate themselves by platform."""
    data_dir = tmp_path_factory.mktemp("xkit-data")
    with temporary_database(data_dir) as url:
        environment = XkitEnvironment.new(data_dir, url)
        environment.extra = {
            **installation_settings(test_certificates),
            # Tests count the refreshes they cause; the upkeep tests run their own server.
            "XKIT_TOKEN_UPKEEP": "false",
            # the built-in templates' real hosts, reached at the quirk emulator
            "XKIT_PROVIDER_CONNECT_TO": quirk_emulator.connect_to,
        }
        yield environment


@pytest.fixture(scope="session")
def microsoft_emulator(
    tmp_path_factory: pytest.TempPathFactory, test_certificates: TestCertificates
) -> Iterator[MicrosoftEmulator]:
    emulator = MicrosoftEmulator.launch(tmp_path_factory.mktemp("microsoft"), test_certificates)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def oidc_provider(
    tmp_path_factory: pytest.TempPathFactory, test_certificates: TestCertificates
) -> Iterator[OidcProvider]:
    """panva's oidc-provider (npm): rotation, and reuse of a refresh token revokes the grant."""
    provider = OidcProvider.launch(tmp_path_factory.mktemp("oidc"), test_certificates)
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def services(
    tmp_path_factory: pytest.TempPathFactory, test_certificates: TestCertificates
) -> Iterator[ServicesEmulator]:
    """Trello's and Stripe's "who am I" endpoints and Google's service-account token
    endpoint, in one emulator; tests register credentials of their own."""
    directory = tmp_path_factory.mktemp("services")
    emulator = ServicesEmulator(test_certificates, log_path=directory / "services.log")
    yield emulator
    emulator.stop()


@pytest.fixture
def microsoft(microsoft_emulator: MicrosoftEmulator) -> MicrosoftEmulator:
    """The Microsoft identity platform + Graph emulator, emptied for this test."""
    microsoft_emulator.reset()
    return microsoft_emulator


@pytest.fixture(scope="session")
def xkit_server(
    xkit_environment: XkitEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[XkitServer]:
    server = XkitServer(xkit_environment, tmp_path_factory.mktemp("logs") / "xkit-serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def default_margin_server(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[XkitServer]:
    """A second server of the same installation that caps the token margin at half the
    token's lifetime, as xkit does by default (the suite's servers don't: see
    installation_settings)."""
    environment = dataclasses.replace(xkit_environment, extra={
        **(xkit_environment.extra or {}), "XKIT_TOKEN_MIN_VALIDITY_SHARE": "0.5"})
    server = XkitServer(environment, tmp_path_factory.mktemp("logs") / "xkit-serve-capped.log")
    yield server
    server.stop()


@pytest.fixture
def fresh_environment(tmp_path: Path) -> Iterator[XkitEnvironment]:
    """An installation of its own, for tests about start-up, keys and migrations."""
    with temporary_database(tmp_path) as url:
        yield XkitEnvironment.new(tmp_path / "data", url)


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def platform(xkit_environment: XkitEnvironment, xkit_server: XkitServer) -> PlatformCredentials:
    return create_platform(xkit_environment, unique_slug("acme"))


@pytest.fixture
def other_platform(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer
) -> PlatformCredentials:
    return create_platform(xkit_environment, unique_slug("globex"))


@pytest.fixture
def api(platform: PlatformCredentials, xkit_server: XkitServer) -> Iterator[httpx.Client]:
    """A backend's HTTP client for the Platform API, authenticated as ``platform``."""
    with platform.client(xkit_server) as client:
        yield client


@pytest.fixture
def connected(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> dict[str, str]:
    """user-1 connected to Outlook with an access token that xkit must refresh before use
    (it lives 200 s, under the 300 s xkit guarantees), and the connector app's secret."""
    microsoft.configure(access_token_lifetime=200)
    app = outlook_connector(api, xkit_server, platform, microsoft)["app"]
    user = microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    end_user = new_end_user(xkit_server, platform, "user-1")
    _, to_provider = end_user.start_popup("outlook-email")
    assert follow_provider(to_provider, microsoft).status_code == 200
    microsoft.configure(access_token_lifetime=3600)
    return {"user_id": user["id"], "client_secret": app["secrets"][0]}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright (one per test module)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def app(
    xkit_environment: XkitEnvironment, xkit_server: XkitServer, platform: PlatformCredentials
) -> Iterator[DeveloperApp]:
    """The developer's web app, on an origin of its own, allowed by ``platform``."""
    with developer_app(xkit_environment, xkit_server, platform) as started:
        yield started
