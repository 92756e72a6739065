"""A misbehaving token endpoint — slow, garbled, resetting connections — costs a retry or a
clear, retry-able error, and never a broken connection. (503s, 429s and timeouts are in
test_tokens_microsoft.py and test_connect_flow.py.)"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.flow import follow_provider, new_end_user, outlook_connector
from tests.support.reset_proxy import ResettingRelay
from tests.support.xkit import PlatformCredentials, XkitServer

TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"


@pytest.fixture
def relay(microsoft: MicrosoftEmulator) -> Iterator[ResettingRelay]:
    """The emulator reached through a relay that can reset connections."""
    with ResettingRelay(microsoft.port) as started:
        yield started


@pytest.fixture
def outlook(api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
            microsoft: MicrosoftEmulator, relay: ResettingRelay) -> None:
    outlook_connector(api, xkit_server, platform, microsoft,
                      settings={"login_host": relay.host, "graph_host": relay.host})
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)


@pytest.fixture
def connected(outlook: None, platform: PlatformCredentials, xkit_server: XkitServer,
              microsoft: MicrosoftEmulator) -> None:
    """user-1 connected, with an access token xkit must refresh before handing it out."""
    microsoft.configure(access_token_lifetime=200)
    _, to_provider = new_end_user(xkit_server, platform).start_popup("outlook-email")
    assert follow_provider(to_provider, microsoft).status_code == 200
    microsoft.configure(access_token_lifetime=3600)


def _refreshes(microsoft: MicrosoftEmulator) -> int:
    return int(microsoft.counters()["token_requests"].get("refresh_token", 0))


def _still_connected(api: httpx.Client) -> None:
    listed = api.get("/api/platform/contexts/user-1/connections").json()["connections"]
    assert [c["connection"]["status"] for c in listed] == ["connected"]


def test_a_slow_token_endpoint_is_waited_for(
    api: httpx.Client, connected: None, microsoft: MicrosoftEmulator
) -> None:
    microsoft.add_fault("token", "delay", seconds=2, count=1, grant_type="refresh_token")
    started = time.monotonic()
    response = api.get(TOKEN_PATH)
    assert response.status_code == 200, response.text
    assert time.monotonic() - started >= 2
    assert _refreshes(microsoft) == 1


def test_malformed_json_is_retried_then_reported_without_breaking_the_connection(
    api: httpx.Client, connected: None, microsoft: MicrosoftEmulator
) -> None:
    microsoft.add_fault("token", "garbage", status=200, count=1, grant_type="refresh_token")
    assert api.get(TOKEN_PATH).status_code == 200  # the retry got a real answer

    microsoft.add_fault("token", "garbage", status=200, count=10, grant_type="refresh_token")
    garbled = api.get(TOKEN_PATH, params={"force_refresh": "true"})
    assert garbled.status_code == 503, garbled.text
    assert garbled.json()["error"]["code"] == "provider_unavailable"
    assert "Traceback" not in garbled.text and "expires_in" not in garbled.text
    microsoft.clear_faults()
    _still_connected(api)
    time.sleep(garbled.json()["error"]["details"]["retry_after"])  # the cooldown it announced
    assert api.get(TOKEN_PATH, params={"force_refresh": "true"}).status_code == 200


def test_connection_resets_are_retried_then_reported_without_breaking_the_connection(
    api: httpx.Client, connected: None, microsoft: MicrosoftEmulator, relay: ResettingRelay
) -> None:
    relay.reset_next(1)
    assert api.get(TOKEN_PATH).status_code == 200
    assert relay.resets == 1

    relay.reset_next(50)
    reset = api.get(TOKEN_PATH, params={"force_refresh": "true"})
    assert reset.status_code == 503, reset.text
    assert reset.json()["error"]["code"] == "provider_unavailable"
    assert reset.json()["error"]["details"]["retry_after"] >= 1
    relay.reset_next(0)
    _still_connected(api)
    time.sleep(reset.json()["error"]["details"]["retry_after"])  # the cooldown it announced
    assert api.get(TOKEN_PATH, params={"force_refresh": "true"}).status_code == 200


def test_a_reset_during_the_code_exchange_ends_in_a_retryable_error(
    outlook: None, platform: PlatformCredentials, xkit_server: XkitServer,
    microsoft: MicrosoftEmulator, relay: ResettingRelay
) -> None:
    user = new_end_user(xkit_server, platform)
    authorization_id, to_provider = user.start_popup("outlook-email")
    with microsoft.client() as provider:
        callback = provider.get(to_provider.headers["location"]).headers["location"]
    relay.reset_next(50)
    page = httpx.get(callback, cookies=to_provider.cookies, timeout=30)
    relay.reset_next(0)
    assert page.status_code == 400 and "try again" in page.text.lower()
    assert "Traceback" not in page.text
    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert status["status"] == "error" and "try again" in status["error_message"].lower()

    _, again = user.start_popup("outlook-email")  # retrying works
    assert follow_provider(again, microsoft).status_code == 200
