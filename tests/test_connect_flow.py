"""The connect flow end to end over HTTP: xkit ↔ the Microsoft identity platform emulator."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.database import raw_dump
from tests.support.flow import (
    APP_ORIGIN,
    follow_provider,
    new_end_user,
    outlook_connector,
    with_opener,
)
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.db.models import Authorization
from xkit.db.types import utcnow
from xkit.runtime import Runtime


def test_outlook_connect_ends_active_with_account_and_encrypted_tokens(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    xkit_environment: XkitEnvironment,
    microsoft: MicrosoftEmulator,
) -> None:
    setup = outlook_connector(api, xkit_server, platform, microsoft)
    microsoft.add_user(mail="ada@contoso.test", display_name="Ada", auto_consent=True)
    user = new_end_user(xkit_server, platform)

    authorization_id, to_provider = user.start_popup("outlook-email")
    query = parse_qs(urlsplit(to_provider.headers["location"]).query)
    assert to_provider.headers["location"].startswith(f"https://{microsoft.base_host}/common/")
    assert query["client_id"] == [setup["app"]["client_id"]]
    assert query["scope"][0].split(" ") == ["offline_access", "User.Read", "Mail.Read", "Mail.Send"]
    assert query["code_challenge_method"] == ["S256"] and query["response_mode"] == ["query"]
    assert query["redirect_uri"] == [f"{xkit_server.url}/p/{platform.slug}/callback"]

    result = follow_provider(to_provider, microsoft)
    assert result.status_code == 200, result.text
    assert "Connected" in result.text and "ada@contoso.test" in result.text
    assert "postMessage" in result.text and APP_ORIGIN in result.text

    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert status["status"] == "active" and status["display_label"] == "ada@contoso.test"
    listed = user.api("GET", "/connections").json()["connections"]
    assert [(c["connector"]["slug"], c["status"]) for c in listed] == [
        ("outlook-email", "connected")
    ]
    assert "offline_access" in status["granted_scopes"]

    dump = raw_dump(xkit_environment.database_url)
    tokens = [r for r in microsoft.requests("/common/oauth2/v2.0/token")]
    assert tokens, "the emulator saw the code exchange"
    assert b"ada@contoso.test" in dump  # the label is not a secret
    assert microsoft.counters()["token_requests"]["authorization_code"] == 1


def test_cancel_at_the_provider_ends_in_a_clear_error(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    user = new_end_user(xkit_server, platform)
    authorization_id, to_provider = user.start_popup("outlook-email")
    state = parse_qs(urlsplit(to_provider.headers["location"]).query)["state"][0]
    declined = httpx.get(
        f"{user.base}/callback",
        params={
            "error": "access_denied",
            "state": state,
            "error_description": "AADSTS65004: User declined to consent to access the app.",
        },
    )
    assert declined.status_code == 400
    assert "declined" in declined.text.lower() or "cancel" in declined.text.lower()
    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert status["status"] == "error" and status["error_code"] == "AADSTS65004"


def test_state_is_single_use_and_forged_state_is_refused(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    _, to_provider = user.start_popup("outlook-email")
    with microsoft.client() as provider:
        back = provider.get(to_provider.headers["location"]).headers["location"]
    assert httpx.get(back).status_code == 200
    replay = httpx.get(back)
    assert replay.status_code == 400 and "already used" in replay.text
    forged = httpx.get(f"{user.base}/callback", params={"code": "x", "state": "forged"})
    assert forged.status_code == 400 and "Traceback" not in forged.text
    assert httpx.get(f"{user.base}/callback").status_code == 400


def test_popup_link_is_single_use_and_opener_origin_must_be_allowed(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    user = new_end_user(xkit_server, platform)
    created = user.api("POST", "/connections", json={"connector": "outlook-email"}).json()
    authorization_id = created["authorization"]["id"]
    evil = user.open_popup(authorization_id, opener_origin="https://evil.example")
    assert evil.status_code == 403 and "not allowed" in evil.text
    link = user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
    assert httpx.get(with_opener(link, APP_ORIGIN)).status_code == 302
    again = httpx.get(with_opener(link, APP_ORIGIN))
    assert again.status_code == 400 and "already used" in again.text


def test_context_token_of_another_platform_or_context_reads_nothing(
    api: httpx.Client,
    platform: PlatformCredentials,
    other_platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    mine = new_end_user(xkit_server, platform, "user-a")
    neighbour = new_end_user(xkit_server, platform, "user-b")
    foreign = new_end_user(xkit_server, other_platform, "user-a")
    connection = mine.api("POST", "/connections", json={"connector": "outlook-email"}).json()

    assert neighbour.api("GET", f"/connections/{connection['id']}").status_code == 404
    assert neighbour.api("DELETE", f"/connections/{connection['id']}").status_code == 404
    assert (
        neighbour.api("GET", f"/authorizations/{connection['authorization']['id']}").status_code
        == 404
    )
    assert neighbour.api("GET", "/connections").json() == {"connections": []}
    # A token of platform B used on platform A's URL:
    foreign.platform = platform
    assert foreign.api("GET", "/connections").status_code == 401
    assert mine.api("GET", f"/connections/{connection['id']}").status_code == 200


def test_cors_answers_only_allowed_origins(
    platform: PlatformCredentials, xkit_server: XkitServer
) -> None:
    url = f"{xkit_server.url}/p/{platform.slug}/api/platform_user/connectors"
    headers = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    ok = httpx.options(url, headers={**headers, "Origin": APP_ORIGIN})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == APP_ORIGIN
    refused = httpx.options(url, headers={**headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


def test_disabled_or_unknown_connector_cannot_be_connected(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    api.patch("/api/platform/connectors/outlook-email", json={"enabled": False}).raise_for_status()
    user = new_end_user(xkit_server, platform)
    disabled = user.api("POST", "/connections", json={"connector": "outlook-email"})
    assert disabled.status_code == 409 and disabled.json()["error"]["code"] == "connector_disabled"
    unknown = user.api("POST", "/connections", json={"connector": "nope"})
    assert unknown.status_code == 404
    assert user.api("GET", "/connectors").json() == {"connectors": []}


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503},
        {"kind": "garbage"},
        {"kind": "delay", "seconds": 7},  # the test server gives providers 5 s
    ],
)
def test_code_exchange_faults_end_in_a_retryable_error(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
    fault: dict[str, object],
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    authorization_id, to_provider = user.start_popup("outlook-email")
    microsoft.add_fault("token", grant_type="authorization_code", count=1, **fault)
    result = follow_provider(to_provider, microsoft)
    assert result.status_code == 400 and "try again" in result.text.lower()
    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert status["status"] == "error" and status["error_message"]
    assert "Traceback" not in result.text


def test_an_expired_state_is_refused(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    xkit_environment: XkitEnvironment,
    microsoft: MicrosoftEmulator,
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    authorization_id, to_provider = user.start_popup("outlook-email")

    async def expire(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            authorization = await session.get(Authorization, authorization_id)
            assert authorization is not None
            authorization.state_expires_at = utcnow() - dt.timedelta(seconds=1)
            await session.commit()

    xkit_environment.with_runtime(expire)
    result = follow_provider(to_provider, microsoft)
    assert result.status_code == 400 and "expired" in result.text
    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert (status["status"], status["error_code"]) == ("error", "state_expired")


@pytest.mark.parametrize(("provider", "scopes"), [
    ("outlook-calendar", ["User.Read", "Calendars.ReadWrite"]),
    ("onedrive", ["User.Read", "Files.ReadWrite"]),
    ("microsoft-teams", ["User.Read", "Team.ReadBasic.All", "ChannelMessage.Send"]),
])
def test_the_other_microsoft_templates_connect_like_outlook(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
    provider: str,
    scopes: list[str],
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft, provider=provider, scopes=scopes)
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    authorization_id, to_provider = user.start_popup(provider)
    query = parse_qs(urlsplit(to_provider.headers["location"]).query)
    assert query["scope"][0].split(" ") == ["offline_access", *scopes]
    tenant = "organizations" if provider == "microsoft-teams" else "common"
    assert to_provider.headers["location"].startswith(f"https://{microsoft.base_host}/{tenant}/")
    assert follow_provider(to_provider, microsoft).status_code == 200
    status = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert status["status"] == "active" and status["display_label"] == "ada@contoso.test"
