"""xkit behind a real reverse proxy: Debian's nginx ends TLS with a certificate from the test CA
and runs the configuration docs/deployment.md shows (docs/deployment/nginx.conf), in front of
``xkit serve`` with ``XKIT_PUBLIC_URL=https://…`` and ``XKIT_TRUSTED_PROXIES`` naming nginx.

What a deployment like this must get right, each seen from outside: the certificate chain
verifies; plain HTTP is sent to https; the dashboard signs in over https and shows the
``https://…/callback`` URL to register; every cookie xkit sets is ``Secure``; the rate limits
count each client behind nginx apart (and a peer nginx is not cannot pick its address); and a
whole connect flow runs in Chromium through nginx against panva's oidc-provider, after which the
backend fetches the token through nginx too.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import unique_slug
from tests.emulators.oidc_provider.fixture import OidcProvider, node_available
from tests.support.browser import PASSWORD, create_admin, csrf_field, screenshot
from tests.support.database import temporary_database
from tests.support.devapp import developer_app
from tests.support.nginx import SITE_CONFIG, NginxProxy, nginx_binary
from tests.support.processes import free_port
from tests.support.tls import TestCertificates, issue_server_certificate
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    create_platform,
    installation_settings,
)

# scripts/test installs nginx; in CI a missing one fails the run instead of skipping.
needs_nginx = pytest.mark.skipif(nginx_binary() is None and os.environ.get("CI") != "true",
                                 reason="nginx is not installed (scripts/test installs it)")

HOSTNAME = "localhost"
DEPLOYMENT_GUIDE = Path(__file__).parent.parent / "docs" / "deployment.md"
LOGIN_LIMIT = 3


@dataclass
class Deployment:
    """xkit on 127.0.0.1, reached by everyone through nginx at ``url``."""

    environment: XkitEnvironment
    server: XkitServer
    nginx: NginxProxy
    ca_file: Path

    @property
    def url(self) -> str:
        return self.nginx.url

    def tls(self) -> ssl.SSLContext:
        """Trusts the test CA only: a chain nginx serves wrongly fails here."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, *, local_address: str | None = None, **options: object) -> httpx.Client:
        """A client of nginx's https address; ``local_address`` makes it another machine."""
        transport = httpx.HTTPTransport(verify=self.tls(), local_address=local_address)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30,
                            **options)  # type: ignore[arg-type]

    def backend(self, platform: PlatformCredentials) -> httpx.Client:
        """The developer's backend, calling the Platform API through nginx."""
        return self.client(auth=platform.basic_auth)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory,
               test_certificates: TestCertificates) -> Iterator[Deployment]:
    directory = tmp_path_factory.mktemp("nginx-deployment")
    certificate, key = issue_server_certificate(test_certificates, directory / "tls", [HOSTNAME])
    xkit_port = free_port()
    nginx = NginxProxy(directory / "nginx", hostname=HOSTNAME, upstream_port=xkit_port,
                       certificate=certificate, key=key)
    with temporary_database(directory) as database_url:
        environment = XkitEnvironment.new(directory / "data", database_url)
        environment.extra = {
            **installation_settings(test_certificates),
            "XKIT_TRUSTED_PROXIES": "127.0.0.1",  # nginx connects from there
            "XKIT_RATE_LIMIT_LOGIN_PER_MINUTE": str(LOGIN_LIMIT),
        }
        try:
            server = XkitServer(environment, directory / "xkit-serve.log", port=xkit_port,
                                public_url=nginx.url)
        except Exception:
            nginx.stop()
            raise
        try:
            nginx.wait_until_serving(test_certificates.ca_cert)
            yield Deployment(environment, server, nginx, test_certificates.ca_cert)
        finally:
            nginx.stop()
            server.stop()
    assert "Traceback" not in server.output()
    # nginx took the documented configuration without a warning and had no upstream errors.
    assert not re.search(r"\[(warn|error|crit|alert|emerg)\]", nginx.output()), nginx.output()


@pytest.fixture
def platform(deployment: Deployment) -> PlatformCredentials:
    return create_platform(deployment.environment, unique_slug("acme"))


def oidc_connector(deployment: Deployment, platform: PlatformCredentials,
                   oidc_provider: OidcProvider) -> dict[str, object]:
    """A Custom OAuth 2.0 connector whose client at oidc-provider has nginx's https callback
    registered, created by the backend through nginx."""
    callback = f"{deployment.url}/p/{platform.slug}/callback"
    client = oidc_provider.register_client(redirect_uris=[callback], client_name="Acme CRM")
    with deployment.backend(platform) as api:
        created = api.post("/api/platform/connectors", json={
            "provider": "oauth2", "slug": "acme-id", "name": "Acme ID",
            "client_id": client["client_id"], "client_secret": client["client_secret"],
            "scopes": ["openid", "offline_access", "email"],
            "settings": {"authorize_url": oidc_provider.authorize_url,
                         "token_url": oidc_provider.token_url,
                         "userinfo_url": oidc_provider.userinfo_url}})
    assert created.status_code == 201, created.text
    assert created.json()["callback_url"] == callback
    return dict(created.json())


@pytest.mark.database_independent
def test_the_deployment_guide_shows_the_tested_nginx_config_verbatim() -> None:
    blocks = re.findall(r"```nginx\n(.*?)```", DEPLOYMENT_GUIDE.read_text(), re.DOTALL)
    assert SITE_CONFIG.read_text() in blocks


@needs_nginx
def test_the_certificate_chain_verifies_and_plain_http_goes_to_https(
        deployment: Deployment) -> None:
    with deployment.client() as client:
        health = client.get("/healthz")
    assert health.status_code == 200
    assert health.headers["server"].startswith("nginx")  # xkit sends no Server header
    assert "max-age=31536000" in health.headers["strict-transport-security"]
    with httpx.Client(verify=True, timeout=10) as public_roots, \
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        public_roots.get(f"{deployment.url}/healthz")  # the test CA is no public root

    plain = httpx.get(f"http://{HOSTNAME}:{deployment.nginx.http_port}/admin/login?next=%2F",
                      timeout=10)
    assert plain.status_code == 301
    assert plain.headers["location"] == f"https://{HOSTNAME}/admin/login?next=%2F"


@needs_nginx
@pytest.mark.skipif(not node_available(), reason="oidc-provider needs node and npm")
def test_every_cookie_xkit_sets_over_https_is_secure(
        deployment: Deployment, platform: PlatformCredentials,
        oidc_provider: OidcProvider) -> None:
    email = create_admin(deployment.environment, "cookies@example.test",
                         platform_slugs=(platform.slug,))
    with deployment.client(local_address="127.0.0.5", follow_redirects=False) as browser:
        form = browser.get("/admin/login")
        signed_in = browser.post("/admin/login", data={
            "csrf_token": csrf_field(form.text), "email": email, "password": PASSWORD})
    assert signed_in.status_code == 303, signed_in.text
    dashboard_cookies = (form.headers.get_list("set-cookie")
                         + signed_in.headers.get_list("set-cookie"))
    assert len(dashboard_cookies) >= 2  # the login form's CSRF cookie, then the session
    for cookie in dashboard_cookies:
        assert "; secure" in cookie.lower() and "httponly" in cookie.lower(), cookie

    oidc_connector(deployment, platform, oidc_provider)
    with deployment.backend(platform) as api:
        token = api.post("/api/platform/contexts",
                         json={"context": {"external_id": "user-9"}}).json()["access_token"]
    with deployment.client(headers={"Authorization": f"Bearer {token}"}) as end_user:
        created = end_user.post(f"/p/{platform.slug}/api/platform_user/connections",
                                json={"connector": "acme-id"})
        assert created.status_code == 201, created.text
        authorization = created.json()["authorization"]["id"]
        link = end_user.post(
            f"/p/{platform.slug}/api/platform_user/authorizations/{authorization}/popup")
        assert link.status_code == 200, link.text
    popup_url = link.json()["url"]
    assert popup_url.startswith(f"{deployment.url}/p/{platform.slug}/")
    with deployment.client(follow_redirects=False) as popup:
        to_provider = popup.get(popup_url)
    assert to_provider.status_code == 302, to_provider.text
    assert to_provider.headers["location"].startswith(oidc_provider.authorize_url)
    assert f"redirect_uri=https%3A%2F%2F{HOSTNAME}%3A{deployment.nginx.https_port}" in \
        to_provider.headers["location"]
    [binding] = to_provider.headers.get_list("set-cookie")  # the flow's browser binding
    assert "; secure" in binding.lower() and "httponly" in binding.lower(), binding


@needs_nginx
def test_bodies_over_nginx_default_limit_reach_xkit(
        deployment: Deployment, platform: PlatformCredentials) -> None:
    """nginx would refuse anything over 1 MiB itself; the documented configuration lets bodies
    through to xkit, whose own limits (the proxy's 25 MiB, 1 MiB elsewhere) decide."""
    with deployment.backend(platform) as api:
        too_big = api.post("/api/platform/connectors", content=b"x" * 2_000_000,
                           headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"  # xkit's answer, not nginx's


def _login(client: httpx.Client, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/admin/login", data={"email": "dev@example.test", "password": "guess"},
                       headers=headers).status_code


@needs_nginx
def test_rate_limits_count_each_client_behind_nginx_apart(deployment: Deployment) -> None:
    """Two machines (127.0.0.2 and 127.0.0.3) reach xkit only through nginx at 127.0.0.1:
    one guessing passwords is limited, the other is not, because xkit reads the client's
    address from the X-Forwarded-For nginx appended to."""
    refused = [403] * LOGIN_LIMIT  # no form token: refused, but counted
    with deployment.client(local_address="127.0.0.2") as guesser, \
            deployment.client(local_address="127.0.0.3") as neighbour:
        assert [_login(guesser) for _ in range(LOGIN_LIMIT)] == refused
        assert _login(guesser) == 429
        assert _login(neighbour) == 403  # a bucket of its own, not nginx's shared one
        # What the guesser writes in X-Forwarded-For, nginx appends its real address to.
        assert _login(guesser, "198.51.100.7") == 429

    # A machine that goes around nginx is no trusted proxy: its X-Forwarded-For is ignored.
    direct = httpx.HTTPTransport(local_address="127.0.0.4")
    with httpx.Client(base_url=deployment.server.url, transport=direct) as around_nginx:
        spoofed = [_login(around_nginx, f"203.0.113.{n}") for n in range(LOGIN_LIMIT + 1)]
    assert spoofed == refused + [429]


@needs_nginx
@pytest.mark.browser
@pytest.mark.skipif(not node_available(), reason="oidc-provider needs node and npm")
def test_dashboard_and_connect_flow_in_chromium_through_nginx(
        deployment: Deployment, platform: PlatformCredentials, oidc_provider: OidcProvider,
        browser: Browser) -> None:
    oidc_connector(deployment, platform, oidc_provider)
    email = create_admin(deployment.environment, "dev@example.test",
                         platform_slugs=(platform.slug,))
    # Chromium is told to accept the test CA's certificates; the chain itself is checked with
    # the CA bundle in test_the_certificate_chain_verifies_and_plain_http_goes_to_https.
    context = browser.new_context(viewport={"width": 1280, "height": 860},
                                  ignore_https_errors=True)
    context.set_default_timeout(15_000)

    # The developer signs in to the dashboard over https and reads the callback URL.
    page = context.new_page()
    page.goto(f"{deployment.url}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{deployment.url}/admin/**")
    assert "/admin/login" not in page.url
    page.goto(f"{deployment.url}/admin/p/{platform.slug}/connectors/acme-id")
    expect(page.locator("#callback-url")).to_have_value(
        f"https://{HOSTNAME}:{deployment.nginx.https_port}/p/{platform.slug}/callback")
    screenshot(page, "nginx-01-connector-callback-url")
    xkit_cookies = [c for c in context.cookies() if c["domain"] == HOSTNAME]
    assert xkit_cookies and all(c["secure"] for c in xkit_cookies), xkit_cookies
    page.close()

    # An end user connects in the developer's app, which loads xkit.js through nginx.
    with developer_app(deployment.environment, deployment.server, platform) as app:
        page = context.new_page()
        page.goto(app.url)
        page.locator('.card[data-connector="acme-id"]').click()
        with page.expect_popup() as opened:
            page.get_by_role("button", name="Connect", exact=True).click()
        popup = opened.value
        popup.wait_for_url(f"{oidc_provider.issuer}/interaction/**")
        popup.locator("#login").fill("alice")
        popup.locator("#password").fill("anything")
        popup.locator("#sign-in").click()
        with popup.expect_event("close"):
            popup.locator("#approve").click()
        expect(page.locator('.connection[data-state="connected"] .account')).to_have_text(
            "alice@example.test")
        screenshot(page, "nginx-02-connected")
    context.close()
    # The provider sent the browser back to nginx, which passed the callback on to xkit.
    assert re.search(rf'"GET /p/{platform.slug}/callback\?\S+ HTTP/[\d.]+" 200 ',
                     deployment.nginx.access_log), deployment.nginx.access_log

    # The backend fetches the fresh token through nginx, and the provider accepts it.
    with deployment.backend(platform) as api:
        fetched = api.get("/api/platform/contexts/user-1/connections/acme-id")
    assert fetched.status_code == 200, fetched.text
    authorization = fetched.json()["authorization"]
    assert authorization["status"] == "active"
    assert authorization["provider_account_id"] == "alice"
    with oidc_provider.client() as http:
        me = http.get(oidc_provider.userinfo_url,
                      headers={"Authorization": f"Bearer {authorization['access_token']}"})
    assert me.status_code == 200 and me.json()["sub"] == "alice"
