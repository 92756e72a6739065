"""Google Calendar through a service account: the developer uploads the JSON key, xkit signs
RS256 assertions (RFC 7523) that the emulated token endpoint verifies with the public half,
and the backend picks the Workspace user to act as per request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.emulators.services.fixture import ServicesEmulator, service_account_key_file
from tests.support.database import raw_dump
from tests.support.flow import new_end_user
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit_client import Xkit

PROVIDER = "google-calendar-service-account"
EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"


def _connector(api: httpx.Client, services: ServicesEmulator, key: Any) -> httpx.Response:
    return api.post("/api/platform/connectors", json={
        "provider": PROVIDER, "service_account_key": key,
        "settings": {"token_host": services.host, "api_host": services.host}})


def _connect(server: XkitServer, platform: PlatformCredentials, external_id: str) -> httpx.Response:
    """Click Connect: with nothing to ask, the popup's start page checks the key at once."""
    user = new_end_user(server, platform, external_id)
    created = user.api("POST", "/connections", json={"connector": PROVIDER})
    assert created.status_code == 201, created.text
    return user.open_popup(created.json()["authorization"]["id"])


@pytest.fixture
def key_file(services: ServicesEmulator) -> dict[str, str]:
    key = service_account_key_file()
    services.add_service_account(key)
    services.add_workspace_user("sam@workspace.test", events=[{"id": "e1", "summary": "Standup"}])
    services.add_workspace_user("eve@elsewhere.test")
    services.delegate("workspace.test", key["client_id"], [EVENTS_SCOPE])
    return key


def test_the_backend_acts_as_a_workspace_user_with_tokens_minted_from_the_key(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
    xkit_environment: XkitEnvironment, services: ServicesEmulator, key_file: dict[str, str],
) -> None:
    created = _connector(api, services, key_file)
    assert created.status_code == 201, created.text
    connector = created.json()
    assert connector["ready"] and connector["auth_type"] == "jwt_bearer"
    assert connector["client_id"] == key_file["client_email"] and connector["client_secret_set"]
    assert "PRIVATE KEY" not in created.text

    result = _connect(xkit_server, platform, "workspace")
    assert result.status_code == 200, result.text
    assert "Connected" in result.text and key_file["client_email"] in result.text

    base = "/api/platform/contexts/workspace/connections/google-calendar-service-account"
    own = api.get(base).json()["authorization"]
    assert own["provider_account_id"] == key_file["client_email"] and own["expires_at"]
    assert "subject" not in own and "credentials" not in own  # absent, not null
    as_sam = api.get(base, params={"subject": "sam@workspace.test"})
    assert as_sam.status_code == 200, as_sam.text
    assert as_sam.json()["authorization"]["subject"] == "sam@workspace.test"
    assert as_sam.json()["authorization"]["access_token"] != own["access_token"]

    with Xkit(xkit_server.url, platform.publishable_key, platform.secret_key) as sdk:
        sam = sdk.get_connection("workspace", PROVIDER, subject="sam@workspace.test")
        as_sam_through_sdk = sdk.proxy(sam.id, "GET", "calendars/primary/events",
                                       subject="sam@workspace.test")
    assert as_sam_through_sdk.status_code == 200, as_sam_through_sdk.text
    assert [e["summary"] for e in as_sam_through_sdk.json()["items"]] == ["Standup"]
    assert sam.access_token and sam.access_token != own["access_token"]
    assert sam.subject == "sam@workspace.test"

    connection_id = as_sam.json()["connection"]["id"]
    proxy = f"/api/platform/proxy/{connection_id}"
    events = api.get(f"{proxy}/calendars/primary/events",
                     headers={"X-Xkit-Subject": "sam@workspace.test"})
    assert events.status_code == 200, events.text
    assert [e["summary"] for e in events.json()["items"]] == ["Standup"]
    mine = api.get(f"{proxy}/users/me/calendarList").json()["items"]
    assert mine[0]["id"] == key_file["client_email"]  # no subject: the service account itself

    refused = api.get(base, params={"subject": "eve@elsewhere.test"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "subject_refused"
    assert "administrator hasn't allowed" in refused.json()["error"]["message"]
    malformed = api.get(base, params={"subject": "not an address"})
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "invalid_subject"

    pem_body = key_file["private_key"].splitlines()[5].encode()
    assert pem_body not in raw_dump(xkit_environment.database_url)


def test_a_key_google_does_not_know_ends_the_connection_with_a_clear_message(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
    services: ServicesEmulator,
) -> None:
    unregistered = service_account_key_file()  # its public half was never given to Google
    assert _connector(api, services, unregistered).status_code == 201
    result = _connect(xkit_server, platform, "stranger")
    assert result.status_code == 400
    assert "refused this integration's service account key" in result.text


@pytest.mark.parametrize("key", [
    {"type": "authorized_user", "client_id": "x"},
    "not json at all",
    {"type": "service_account", "client_email": "a@b.test", "private_key_id": "k",
     "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"},
])
def test_a_file_that_is_not_a_service_account_key_is_refused(
    api: httpx.Client, services: ServicesEmulator, key: Any,
) -> None:
    refused = _connector(api, services, key)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_service_account_key"
    assert "nope" not in refused.text
