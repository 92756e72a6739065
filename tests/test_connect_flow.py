"""The connect flow end to end over HTTP: xkit ↔ the Microsoft identity platform emulator."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.emulators.oidc_provider.fixture import OidcProvider
from tests.support.database import raw_dump
from tests.support.flow import (
    APP_ORIGIN,
    EndUser,
    back_at_xkit,
    connected_to_oidc_provider,
    follow_provider,
    new_end_user,
    outlook_connector,
    sign_in_at_provider,
    with_opener,
)
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.crypto import fingerprint
from xkit.db.models import Authorization, OneTimeToken, WebhookEvent
from xkit.db.types import utcnow
from xkit.runtime import Runtime
from xkit.services.tokens.authorization_values import decrypt_from


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
        cookies=to_provider.cookies,
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
    assert back_at_xkit(back, to_provider).status_code == 200
    replay = back_at_xkit(back, to_provider)
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


@pytest.fixture
def outlook_user(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> EndUser:
    """user-1 of ``platform``, whose catalog offers Outlook Email (at the emulator)."""
    outlook_connector(api, xkit_server, platform, microsoft)
    return new_end_user(xkit_server, platform)


# --- webhook events of a failed reconnect -----------------------------------------------------

def _events(environment: XkitEnvironment, platform_id: str) -> list[tuple[str, str | None]]:
    """The platform's outbox: (event type, error code) of each event, oldest first."""

    async def read(runtime: Runtime) -> list[tuple[str, str | None]]:
        async with runtime.sessions() as session:
            rows = await session.scalars(
                select(WebhookEvent).where(WebhookEvent.platform_id == platform_id)
                .order_by(WebhookEvent.created_at))
            return [(e.event_type, (e.payload.get("error") or {}).get("code")) for e in rows]

    return environment.with_runtime(read)


def test_a_failed_reconnect_leaves_the_connection_working_and_fires_no_error_event(
    outlook_user: EndUser, platform: PlatformCredentials, xkit_server: XkitServer,
    xkit_environment: XkitEnvironment, microsoft: MicrosoftEmulator,
) -> None:
    for mail in ("ada@contoso.test", "grace@contoso.test"):
        microsoft.add_user(mail=mail, password="pw")
    user = outlook_user
    _, to_provider = user.start_popup("outlook-email")
    assert sign_in_at_provider(to_provider, microsoft, login="ada@contoso.test",
                               password="pw").status_code == 200
    [connection] = user.api("GET", "/connections").json()["connections"]

    def reconnect() -> httpx.Response:
        attempt = user.api("POST", f"/connections/{connection['id']}/reconnect").json()
        return user.open_popup(attempt["authorization"]["id"])

    another = sign_in_at_provider(reconnect(), microsoft, login="grace@contoso.test",
                                  password="pw")
    assert another.status_code == 400 and "different account" in another.text
    to_provider = reconnect()
    state = parse_qs(urlsplit(to_provider.headers["location"]).query)["state"][0]
    denied = httpx.get(f"{user.base}/callback", params={"error": "access_denied", "state": state},
                       cookies=to_provider.cookies)
    assert denied.status_code == 400

    [still] = user.api("GET", "/connections").json()["connections"]
    assert still["status"] == "connected"
    assert still["authorization"]["display_label"] == "ada@contoso.test"
    assert _events(xkit_environment, platform.platform_id) == [("connection.enabled", None)]

    # A first connect that fails does leave a broken connection: that one is reported.
    newcomer = new_end_user(xkit_server, platform, "user-2")
    _, to_provider = newcomer.start_popup("outlook-email")
    state = parse_qs(urlsplit(to_provider.headers["location"]).query)["state"][0]
    httpx.get(f"{newcomer.base}/callback", params={"error": "access_denied", "state": state},
              cookies=to_provider.cookies)
    assert _events(xkit_environment, platform.platform_id)[-1] == (
        "connection.error", "access_denied")


# --- what the popup and the database never give away ------------------------------------------

def test_the_popup_reports_only_to_the_origin_that_opened_it(
    outlook_user: EndUser, api: httpx.Client, microsoft: MicrosoftEmulator
) -> None:
    assert APP_ORIGIN in api.get("/api/platform").json()["allowed_origins"]
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    _, to_provider = outlook_user.start_popup("outlook-email", opener_origin=APP_ORIGIN)
    page = follow_provider(to_provider, microsoft)
    found = re.search(r"<script[^>]*>(.*?)</script>", page.text, re.S)
    assert found, page.text
    script = found.group(1)
    assert f"var origin = {json.dumps(APP_ORIGIN)};" in script
    assert "postMessage(message, origin)" in script
    assert '"*"' not in script and "'*'" not in script


def test_redirect_mode_refuses_a_return_url_on_another_origin(outlook_user: EndUser) -> None:
    authorization_id = outlook_user.new_authorization("outlook-email")
    link = outlook_user.api("POST", f"/authorizations/{authorization_id}/popup").json()["url"]
    refused = httpx.get(f"{link}&{urlencode({'return_url': 'https://evil.example/back'})}")
    assert refused.status_code == 403 and "not allowed" in refused.text
    assert "evil.example" not in refused.headers.get("location", "")
    status = outlook_user.api("GET", f"/authorizations/{authorization_id}").json()["status"]
    assert status == "awaiting_callback"


def test_state_and_pkce_verifier_are_never_stored_in_plaintext(
    outlook_user: EndUser, xkit_environment: XkitEnvironment
) -> None:
    authorization_id, to_provider = outlook_user.start_popup("outlook-email")
    query = parse_qs(urlsplit(to_provider.headers["location"]).query)
    state, challenge = query["state"][0], query["code_challenge"][0]

    async def verifier(runtime: Runtime) -> str:
        async with runtime.sessions() as session:
            authorization = await session.get(Authorization, authorization_id)
            assert authorization is not None
            return decrypt_from(runtime.keyring, authorization, "pkce_verifier") or ""

    plain_verifier = xkit_environment.with_runtime(verifier)
    digest = hashlib.sha256(plain_verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge
    dump = raw_dump(xkit_environment.database_url)
    assert state.encode() not in dump and plain_verifier.encode() not in dump
    assert fingerprint(state).encode() in dump  # what is kept instead: its hash


def test_the_popup_link_token_is_stored_hashed_and_expires(
    outlook_user: EndUser, xkit_environment: XkitEnvironment
) -> None:
    authorization_id = outlook_user.new_authorization("outlook-email")
    issued = outlook_user.api("POST", f"/authorizations/{authorization_id}/popup").json()
    assert 0 < issued["expires_in"] <= 60
    token = parse_qs(urlsplit(issued["url"]).query)["token"][0]
    dump = raw_dump(xkit_environment.database_url)
    assert token.encode() not in dump and fingerprint(token).encode() in dump

    async def age(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            await session.execute(
                update(OneTimeToken).where(OneTimeToken.token_hash == fingerprint(token))
                .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
            await session.commit()

    xkit_environment.with_runtime(age)
    late = httpx.get(with_opener(issued["url"], APP_ORIGIN))
    assert late.status_code == 400 and "expired" in late.text


def test_the_session_says_whose_token_it_is(
    platform: PlatformCredentials, other_platform: PlatformCredentials, xkit_server: XkitServer
) -> None:
    user = new_end_user(xkit_server, platform, "user-42")
    session = user.api("GET", "/session")
    assert session.status_code == 200
    body = session.json()
    assert body["context"] == {"external_id": "user-42", "external_name": None}
    assert body["platform"]["slug"] == platform.slug
    foreign = new_end_user(xkit_server, other_platform, "user-42")
    foreign.platform = platform
    assert foreign.api("GET", "/session").status_code == 401
    anonymous = httpx.get(f"{user.base}/api/platform_user/session")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "missing_context_token"


# --- removal from the browser -----------------------------------------------------------------

def test_removing_a_connection_from_the_browser_revokes_the_grant_at_the_provider(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    oidc_provider: OidcProvider,
) -> None:
    oidc_provider.reset_stats()
    user = connected_to_oidc_provider(api, xkit_server, platform, oidc_provider, "ada")
    [connection] = user.api("GET", "/connections").json()["connections"]
    assert user.api("DELETE", f"/connections/{connection['id']}").status_code == 204
    assert oidc_provider.stats()["grants_revoked_by_reason"].get("revocation", 0) == 1
    assert user.api("GET", "/connections").json() == {"connections": []}
    assert api.get(f"/api/platform/connections/{connection['id']}").status_code == 404


# --- Outlook over IMAP/SMTP: Exchange Online's resource ---------------------------------------

def test_an_outlook_connector_for_imap_and_smtp_gets_an_exchange_token_and_the_account(
    api: httpx.Client,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    microsoft: MicrosoftEmulator,
) -> None:
    protocols = ["https://outlook.office.com/IMAP.AccessAsUser.All",
                 "https://outlook.office.com/SMTP.Send"]
    mixed = api.post("/api/platform/connectors", json={
        "provider": "outlook-email", "scopes": ["Mail.Read", *protocols]})
    assert mixed.status_code == 422 and mixed.json()["error"]["code"] == "invalid_scope"
    assert "make a second connector" in mixed.json()["error"]["message"]

    outlook_connector(api, xkit_server, platform, microsoft,
                      scopes=[*protocols, "openid", "profile", "email"])
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    _, to_provider = user.start_popup("outlook-email")
    scope = parse_qs(urlsplit(to_provider.headers["location"]).query)["scope"][0].split(" ")
    assert scope[:3] == ["offline_access", *protocols]
    assert follow_provider(to_provider, microsoft).status_code == 200

    connection = api.get("/api/platform/contexts/user-1/connections/outlook-email").json()
    authorization = connection["authorization"]
    assert authorization["display_label"] == "ada@contoso.test"  # from the id_token
    assert set(protocols) <= set(authorization["granted_scopes"])
    with microsoft.client() as graph:  # an IMAP/SMTP token, which Graph refuses
        me = graph.get(microsoft.graph_url("/me"),
                       headers={"Authorization": f"Bearer {authorization['access_token']}"})
    assert me.status_code == 401


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
