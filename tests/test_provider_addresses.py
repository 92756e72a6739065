"""Issue 13 §1: calls to a connector's own endpoints cannot reach xkit's private network.

Against a real ``xkit serve`` whose operator has NOT allowed private networks for providers
(the production default): endpoints that point inside are refused when the connector is
saved (a 422 naming the setting), and endpoints whose host only *resolves* inside (a
``localhost`` template of the operator's, a connect-to mapping) are refused when called —
with one error whether or not something listens there, and nothing sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import unique_slug
from tests.emulators.oauth_quirks.fixture import QuirkEmulator
from tests.emulators.services.fixture import service_account_key_file
from tests.support.browser import Dashboard, create_admin
from tests.support.flow import APP_ORIGIN, new_end_user, with_opener
from tests.support.processes import free_port
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    create_platform,
)
from xkit.db.models import Authorization, Connection
from xkit.db.types import new_id, utcnow
from xkit.errors import ConfigurationError
from xkit.oauth import TokenSet
from xkit.runtime import Runtime, start_runtime
from xkit.services.configuration import connectors, contexts, platforms
from xkit.services.connect.flow import store_tokens
from xkit.services.tokens.upkeep import run_upkeep
from xkit.settings import Settings

TEMPLATES = Path(__file__).parent / "data" / "templates"
IPV6_SPELLINGS = ["64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1", "::ffff:127.0.0.1"]


class Listener:
    """A loopback TCP port that records every connection made to it (an internal service
    an attacker would like xkit to talk to)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.socket.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


def _local_template(directory: Path, port: int) -> None:
    """An operator's template whose endpoints are a host name that resolves to loopback."""
    (directory / "local-crm.yaml").write_text(f"""
slug: local-crm
name: Local CRM
description: A CRM on the operator's own network.
mark: {{text: "LC", background: "#4b5563"}}
categories: [crm]
docs_url: https://example.com/docs
sources: [https://example.com/docs]
auth_type: oauth2
oauth2:
  authorize_url: "https://localhost:{port}/authorize"
  token_url: "https://localhost:{port}/token"
  revoke_url: "https://localhost:{port}/revoke"
scopes:
  - {{name: read, description: Read}}
default_scopes: [read]
account:
  source: url
  url: "https://localhost:{port}/me"
  id: id
  label: name
setup_guide: "Register {{callback_url}}."
""")


@pytest.fixture(scope="module")
def strict(xkit_environment: XkitEnvironment, quirk_emulator: QuirkEmulator,
           listener: Listener, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[XkitServer, int]]:
    """A server of the shared installation with provider private networks NOT allowed;
    ``inside.example`` is mapped (connect-to) to the listener, ``closed.example`` to a
    loopback port nobody listens on. Also the closed port."""
    closed = free_port()
    templates = tmp_path_factory.mktemp("operator-templates")
    _local_template(templates, listener.port)
    extra = dict(xkit_environment.extra or {})
    extra.update({
        "XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS": "false",
        "XKIT_PROVIDER_CONNECT_TO": (f"{quirk_emulator.connect_to},"
                                     f"inside.example=127.0.0.1:{listener.port},"
                                     f"closed.example=127.0.0.1:{closed}"),
        "XKIT_PROVIDERS_DIRS": f"{TEMPLATES}:{templates}",
    })
    environment = dataclasses.replace(xkit_environment, extra=extra)
    server = XkitServer(environment, tmp_path_factory.mktemp("strict") / "serve.log")
    yield server, closed
    server.stop()


@pytest.fixture
def strict_platform(strict: tuple[XkitServer, int]) -> PlatformCredentials:
    return create_platform(strict[0].environment, unique_slug("strict"))


def _custom(api: httpx.Client, slug: str, host: str, **settings: str) -> httpx.Response:
    return api.post("/api/platform/connectors", json={
        "provider": "oauth2", "slug": slug, "name": slug, "client_id": "app",
        "client_secret": "app-secret", "scopes": ["read"],
        "settings": {"authorize_url": f"https://{host}/authorize",
                     "token_url": f"https://{host}/token",
                     "userinfo_url": f"https://{host}/me",
                     "revoke_url": f"https://{host}/revoke", **settings}})


# -- (a) saving a connector -------------------------------------------------------------------

@pytest.mark.parametrize(("setting", "value"), [
    ("token_url", "http://127.0.0.1:{port}/token"),
    ("token_url", "https://10.1.2.3/token"),
    ("token_url", "https://localhost/token"),
    ("token_url", "https://169.254.169.254/latest/meta-data"),
    ("token_url", "https://[::1]/token"),
    *(("token_url", f"https://[{spelling}]/token") for spelling in IPV6_SPELLINGS),
    ("userinfo_url", "https://[64:ff9b::7f00:1]/me"),
    ("revoke_url", "https://[::ffff:10.0.0.1]/revoke"),
    ("api_base_url", "https://192.168.0.10/api"),
    ("authorize_url", "http://localhost:{port}/authorize"),
])
def test_a_connector_endpoint_inside_the_network_is_refused_naming_the_setting(
        strict: tuple[XkitServer, int], strict_platform: PlatformCredentials,
        listener: Listener, setting: str, value: str) -> None:
    with strict_platform.client(strict[0]) as api:
        refused = _custom(api, "crm", "auth.example.com",
                          **{setting: value.format(port=listener.port)})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "invalid_setting"
        assert error["details"] == {"field": f"settings.{setting}"}
        assert "XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS" in error["message"]
        assert api.get("/api/platform/connectors").json()["connectors"] == []
        # ...and an update may not sneak one in either
        assert _custom(api, "crm", "auth.example.com").status_code == 201
        changed = api.patch("/api/platform/connectors/crm", json={"settings": {
            "authorize_url": "https://auth.example.com/authorize",
            "token_url": "https://auth.example.com/token",
            setting: value.format(port=listener.port)}})
        assert changed.status_code == 422, changed.text
        assert changed.json()["error"]["details"] == {"field": f"settings.{setting}"}


def test_a_host_setting_inside_the_network_is_refused(
        strict: tuple[XkitServer, int], strict_platform: PlatformCredentials) -> None:
    with strict_platform.client(strict[0]) as api:
        refused = api.post("/api/platform/connectors", json={
            "provider": "outlook-email",
            "settings": {"login_host": "127.0.0.1:8443", "graph_host": "graph.microsoft.com"}})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"] == {"field": "settings.login_host"}


# -- (b) calling one ----------------------------------------------------------------------------

def _callback(server: XkitServer, platform: PlatformCredentials, connector: str,
              external_id: str) -> tuple[httpx.Response, dict[str, Any]]:
    """Start a connection, skip the provider (an attacker needs none), and hit the callback
    with a made-up code, in one browser (cookie jar); the page and the authorization."""
    user = new_end_user(server, platform, external_id)
    created = user.api("POST", "/connections", json={"connector": connector})
    assert created.status_code == 201, created.text
    authorization_id = created.json()["authorization"]["id"]
    link = user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
    with httpx.Client(timeout=30) as browser:
        to_provider = browser.get(with_opener(link, APP_ORIGIN))
        assert to_provider.status_code == 302, to_provider.text
        state = parse_qs(urlsplit(to_provider.headers["location"]).query)["state"][0]
        page = browser.get(f"{server.url}/p/{platform.slug}/callback",
                           params={"code": "stolen-code", "state": state})
    authorization = user.api("GET", f"/authorizations/{authorization_id}").json()
    return page, authorization


def test_the_callback_sends_nothing_inside_and_answers_the_same_open_or_closed(
        strict: tuple[XkitServer, int], strict_platform: PlatformCredentials,
        listener: Listener) -> None:
    server, _ = strict
    with strict_platform.client(server) as api:
        assert _custom(api, "open-port", "inside.example").status_code == 201
        assert _custom(api, "closed-port", "closed.example").status_code == 201
        assert api.post("/api/platform/connectors",
                        json={"provider": "local-crm", "client_id": "app",
                              "client_secret": "app-secret"}).status_code == 201
    before = listener.connections
    outcomes = []
    for connector in ("open-port", "closed-port", "local-crm"):
        page, authorization = _callback(server, strict_platform, connector, f"u-{connector}")
        assert page.status_code == 400, page.text
        assert "contact the app" in page.text
        assert authorization["status"] == "error", authorization
        outcomes.append((page.status_code, authorization["error_code"],
                         authorization["error_message"]))
    assert listener.connections == before, "nothing may reach the internal service"
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0][1] == "provider_address_refused"


def _seed_expired_connection(environment: XkitEnvironment, platform: PlatformCredentials,
                             connector_slug: str, external_id: str) -> None:
    """A connection as a permissive server would have left it, its token just expired: the
    operator has since turned private networks off (or the name now resolves inside)."""
    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            found = await platforms.get_platform(session, platform.slug)
            context, _ = await contexts.upsert_context(session, found.id, external_id=external_id)
            connector = await connectors.get_connector(session, found.id, connector_slug)
            connection = Connection(platform_id=found.id, context_id=context.id,
                                    connector_id=connector.id)
            session.add(connection)
            await session.flush()
            authorization = Authorization(id=new_id(), platform_id=found.id,
                                          connection_id=connection.id, status="active",
                                          last_used_at=utcnow())
            store_tokens(runtime.keyring, authorization, TokenSet(
                access_token="old-access", token_type="Bearer", expires_in=60,
                refresh_token="old-refresh", scopes=["read"], id_token=None),
                requested=["read"])
            session.add(authorization)
            await session.commit()
    environment.with_runtime(_work)


def test_refreshes_send_nothing_inside_and_answer_the_same_open_or_closed(
        strict: tuple[XkitServer, int], strict_platform: PlatformCredentials,
        listener: Listener) -> None:
    server, _ = strict
    answers = []
    with strict_platform.client(server) as api:
        for connector in ("open-port", "closed-port"):
            assert _custom(api, connector, connector.replace("open-port", "inside.example")
                           .replace("closed-port", "closed.example")).status_code == 201
            _seed_expired_connection(server.environment, strict_platform, connector, "u-1")
        before = listener.connections
        for connector in ("open-port", "closed-port"):
            for _ in range(3):  # ?force_refresh at will: still nothing sent
                answer = api.get(f"/api/platform/contexts/u-1/connections/{connector}",
                                 params={"force_refresh": "true"})
                answers.append((answer.status_code, answer.json()["error"]["code"],
                                answer.json()["error"]["message"]))
        assert listener.connections == before
        assert len(set(answers)) == 1, answers
        assert answers[0][:2] == (502, "provider_address_refused")
        # the user's grant is not at fault: the connection is not marked broken
        connection = api.get("/api/platform/contexts/u-1/connections").json()
        assert all(c["connection"]["status"] == "connected"
                   for c in connection["connections"]), connection


def test_token_upkeep_sends_nothing_inside_and_does_not_retry_in_a_loop(
        strict: tuple[XkitServer, int], strict_platform: PlatformCredentials,
        listener: Listener) -> None:
    server, _ = strict
    with strict_platform.client(server) as api:
        assert _custom(api, "open-port", "inside.example").status_code == 201
    _seed_expired_connection(server.environment, strict_platform, "open-port", "u-upkeep")
    before = listener.connections

    async def _upkeep(runtime: Runtime) -> tuple[int, int]:
        first = await run_upkeep(runtime.token_deps, refresh_ahead=dt.timedelta(minutes=15))
        return first.provider_failures, first.need_reconnect

    failures, need_reconnect = server.environment.with_runtime(_upkeep)
    assert failures >= 1 and need_reconnect == 0
    assert listener.connections == before


def test_the_dashboard_shows_the_refusal_next_to_the_setting(
        strict: tuple[XkitServer, int], strict_platform: PlatformCredentials) -> None:
    server, _ = strict
    email = f"dev-{secrets.token_hex(4)}@example.test"
    create_admin(server.environment, email, platform_slugs=(strict_platform.slug,))
    with Dashboard(server) as dashboard:
        dashboard.log_in(email)
        base = f"/admin/p/{strict_platform.slug}"
        added = dashboard.submit(f"{base}/connectors/new", data={"provider": "outlook-email"})
        assert added.status_code == 303
        refused = dashboard.submit(added.headers["location"] + "/settings", data={
            "scopes": ["Mail.Read"], "setting.tenant": "common",
            "setting.login_host": "[64:ff9b::7f00:1]:8443", "setting.graph_host": ""})
    assert refused.status_code == 422
    shown = re.search(r'<p class="error" id="error-setting-login_host">([^<]*)</p>',
                      refused.text)
    assert shown and "non-public address" in shown.group(1), refused.text


def _plain_http_template(directory: Path) -> Path:
    directory.mkdir()
    _local_template(directory, 8080)
    path = directory / "local-crm.yaml"
    path.write_text(path.read_text().replace("https://localhost", "http://127.0.0.1"))
    return directory


@pytest.mark.database_independent
async def test_an_operator_template_calling_plain_http_needs_private_networks_allowed(
        tmp_path: Path) -> None:
    templates = _plain_http_template(tmp_path / "templates")
    strict = Settings(data_dir=tmp_path / "data", providers_dirs=[templates])
    with pytest.raises(ConfigurationError, match="local-crm.*oauth2.authorize_url.*"
                                                 "XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS"):
        await start_runtime(strict)
    allowed = Settings(data_dir=tmp_path / "data", providers_dirs=[templates],
                       provider_allow_private_networks=True)
    runtime = await start_runtime(allowed)
    try:
        assert "local-crm" in runtime.providers
    finally:
        await runtime.close()


def test_a_service_account_grant_to_an_address_inside_is_refused_plainly(
        strict: tuple[XkitServer, int], strict_platform: PlatformCredentials) -> None:
    """Google's token host is mapped (connect-to) to the loopback emulator here: a JWT-bearer
    grant is refused as an address, not blamed on the key."""
    server, _ = strict
    with strict_platform.client(server) as api:
        created = api.post("/api/platform/connectors", json={
            "provider": "google-calendar-service-account",
            "service_account_key": service_account_key_file()})
        assert created.status_code == 201, created.text
    user = new_end_user(server, strict_platform, "workspace")
    connection = user.api("POST", "/connections",
                          json={"connector": "google-calendar-service-account"}).json()
    page = user.open_popup(connection["authorization"]["id"])
    assert page.status_code == 400, page.text
    assert "contact the app" in page.text and "key was refused" not in page.text
    authorization = user.api("GET", f"/authorizations/{connection['authorization']['id']}")
    assert authorization.json()["error_code"] == "provider_address_refused"
