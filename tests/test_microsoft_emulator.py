"""The Microsoft emulator itself: the protocol's happy path and each error xkit must handle.

One emulator subprocess serves the module over HTTPS with the test CA; each test resets it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator, pkce_pair

pytestmark = pytest.mark.database_independent

REDIRECT_URI = "http://127.0.0.1:8000/p/acme/callback"
SECRET = "emulated-client-secret"
SCOPE = "openid profile email offline_access Mail.Read Mail.Send"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MicrosoftEmulator]:
    running = MicrosoftEmulator.launch(tmp_path_factory.mktemp("microsoft-emulator"))
    yield running
    running.stop()


@pytest.fixture
def http(emulator: MicrosoftEmulator) -> Iterator[httpx.Client]:
    emulator.reset()
    with emulator.client(timeout=10.0) as client:
        yield client


@dataclass
class Registration:
    client_id: str
    user_id: str
    mail: str


@pytest.fixture
def ada(emulator: MicrosoftEmulator, http: httpx.Client) -> Registration:
    """An Outlook-connector-like app and a user who consents without a page."""
    app = emulator.register_app(redirect_uris=[REDIRECT_URI], client_secret=SECRET)
    user = emulator.add_user(
        user_id="ada-1",
        mail="ada@example.com",
        display_name="Ada Lovelace",
        auto_consent=True,
        messages=[
            {"subject": "Older", "body": "first", "receivedDateTime": "2022-01-01T09:00:00Z"},
            {"subject": "Newer", "body": "second", "receivedDateTime": "2022-01-02T09:00:00Z"},
        ],
    )
    return Registration(app["client_id"], user["id"], user["mail"])


def authorize(
    http: httpx.Client, emulator: MicrosoftEmulator, who: Registration, **overrides: Any
) -> tuple[httpx.Response, str]:
    """Send the browser to /authorize; returns the response and the PKCE verifier."""
    verifier, challenge = pkce_pair()
    params = {
        "client_id": who.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "opaque-state",
        "response_mode": "query",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": who.mail,
    }
    params.update(overrides)
    tenant = params.pop("tenant", "common")
    response = http.get(emulator.authorize_url(tenant), params=params)
    return response, verifier


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def redeem(
    http: httpx.Client, emulator: MicrosoftEmulator, who: Registration, code: str, verifier: str
) -> httpx.Response:
    return http.post(
        emulator.token_url(),
        data={
            "grant_type": "authorization_code",
            "client_id": who.client_id,
            "client_secret": SECRET,
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
    )


def connect(
    http: httpx.Client, emulator: MicrosoftEmulator, who: Registration, scope: str = SCOPE
) -> dict[str, Any]:
    response, verifier = authorize(http, emulator, who, scope=scope)
    tokens = redeem(http, emulator, who, redirect_params(response)["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def refresh(
    http: httpx.Client, emulator: MicrosoftEmulator, who: Registration, refresh_token: str
) -> httpx.Response:
    """A refresh authenticated with HTTP Basic, the other documented client auth method."""
    return http.post(
        emulator.token_url(),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(who.client_id, SECRET),
    )


def assert_identity_error(response: httpx.Response, status: int, error: str, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, claims, signature = token.split(".")
    assert signature == ""

    def decode(part: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    return decode(header), decode(claims)


# --- Exchange Online's mail protocols: another resource ----------------------------------------

EXCHANGE_SCOPE = (
    "openid profile email offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
    "https://outlook.office.com/SMTP.Send"
)


def test_imap_and_smtp_permissions_get_a_token_for_exchange_that_graph_refuses(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    tokens = connect(http, emulator, ada, scope=EXCHANGE_SCOPE)
    granted = set(tokens["scope"].split())
    assert {"https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send"} <= granted
    assert "Mail.Read" not in granted and "User.Read" not in granted
    me = http.get(emulator.graph_url("me"), headers=bearer(tokens["access_token"]))
    assert me.status_code == 401 and me.json()["error"]["code"] == "InvalidAuthenticationToken"
    _, claims = jwt_parts(tokens["id_token"])
    assert claims["oid"] == ada.user_id and claims["email"] == ada.mail
    renewed = refresh(http, emulator, ada, tokens["refresh_token"]).json()
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in renewed["scope"].split()


def test_one_request_cannot_mix_graph_and_exchange_permissions(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    response, _ = authorize(http, emulator, ada, scope=f"{EXCHANGE_SCOPE} Mail.Read")
    params = redirect_params(response)
    assert params["error"] == "invalid_scope"
    assert params["error_description"].startswith("AADSTS70011: ")


# --- the happy path ---------------------------------------------------------------------------


def test_connect_refresh_and_use_graph(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    response, verifier = authorize(http, emulator, ada)
    params = redirect_params(response)
    assert params["state"] == "opaque-state"

    tokens = redeem(http, emulator, ada, params["code"], verifier).json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3599 and tokens["ext_expires_in"] == 3599
    assert {"Mail.Read", "Mail.Send", "User.Read", "offline_access"} <= set(tokens["scope"].split())
    header, claims = jwt_parts(tokens["id_token"])
    assert header["alg"] == "none"
    assert claims["aud"] == ada.client_id and claims["oid"] == ada.user_id
    assert claims["preferred_username"] == claims["email"] == ada.mail
    assert claims["name"] == "Ada Lovelace" and claims["tid"]

    # Rotation: a new refresh token each time; the used one stays valid, as Microsoft documents.
    first = tokens["refresh_token"]
    rotated = refresh(http, emulator, ada, first)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != first
    assert refresh(http, emulator, ada, first).status_code == 200
    access_token = rotated.json()["access_token"]

    me = http.get(emulator.graph_url("me"), headers=bearer(access_token))
    assert me.status_code == 200
    assert me.json()["id"] == ada.user_id and me.json()["mail"] == ada.mail

    page = http.get(
        emulator.graph_url("me/messages"),
        params={"$top": 1, "$select": "subject"},
        headers=bearer(access_token),
    ).json()
    assert [m["subject"] for m in page["value"]] == ["Newer"]
    following = http.get(page["@odata.nextLink"], headers=bearer(access_token)).json()
    assert [m["subject"] for m in following["value"]] == ["Older"]
    assert "@odata.nextLink" not in following

    mail = {
        "message": {
            "subject": "Hello from xkit",
            "body": {"contentType": "Text", "content": "It works."},
            "toRecipients": [{"emailAddress": {"address": "grace@example.com"}}],
        },
        "saveToSentItems": True,
    }
    sent = http.post(emulator.graph_url("me/sendMail"), json=mail, headers=bearer(access_token))
    assert sent.status_code == 202 and sent.content == b""
    assert [m["message"]["subject"] for m in emulator.sent_mail()] == ["Hello from xkit"]
    sent_items = http.get(
        emulator.graph_url("me/mailFolders/sentitems/messages"), headers=bearer(access_token)
    ).json()
    assert [m["subject"] for m in sent_items["value"]] == ["Hello from xkit"]

    counters = emulator.counters()
    assert counters["token_requests"] == {"authorization_code": 1, "refresh_token": 2}
    assert counters["refresh_requests"] == 2
    assert counters["messages_sent"] == 1


def test_no_refresh_token_without_offline_access(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    tokens = connect(http, emulator, ada, scope="Mail.Read")
    assert "refresh_token" not in tokens and "id_token" not in tokens


def test_request_log_redacts_credentials(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    tokens = connect(http, emulator, ada)
    http.get(emulator.graph_url("me"), headers=bearer(tokens["access_token"]))
    token_call, graph_call = emulator.requests("/common/oauth2")[-1], emulator.requests("/v1.0")[-1]
    assert token_call["form"]["client_secret"] == "[redacted]"
    assert token_call["form"]["code"] == token_call["form"]["code_verifier"] == "[redacted]"
    assert graph_call["headers"]["authorization"] == "Bearer [redacted]"
    assert SECRET not in json.dumps(emulator.requests())


# --- the sign-in page -------------------------------------------------------------------------


def sign_in_page(http: httpx.Client, emulator: MicrosoftEmulator, who: Registration) -> str:
    response, _ = authorize(http, emulator, who)
    assert response.status_code == 200
    for element in (f"id='account-{who.user_id}'", 'id="accept"', 'id="cancel"', 'id="login"'):
        assert element in response.text
    match = re.search(r'name="flow" value="([^"]+)"', response.text)
    assert match
    return match.group(1)


@pytest.fixture
def grace(emulator: MicrosoftEmulator, ada: Registration) -> Registration:
    """A user with a password, who has to go through the page."""
    user = emulator.add_user(user_id="grace-1", mail="grace@example.com", password="hopper")
    return Registration(ada.client_id, user["id"], user["mail"])


def test_cancel_reports_access_denied(
    emulator: MicrosoftEmulator, http: httpx.Client, grace: Registration
) -> None:
    flow = sign_in_page(http, emulator, grace)
    response = http.post(
        f"{emulator.base_url}/common/login", data={"flow": flow, "action": "cancel"}
    )
    params = redirect_params(response)
    assert params["error"] == "access_denied"
    assert params["error_description"] == "AADSTS65004: User declined to consent to access the app."
    assert params["state"] == "opaque-state"


def test_accept_checks_the_password(
    emulator: MicrosoftEmulator, http: httpx.Client, grace: Registration
) -> None:
    flow = sign_in_page(http, emulator, grace)
    form = {"flow": flow, "action": "accept", "account": grace.user_id, "password": "wrong"}
    refused = http.post(f"{emulator.base_url}/common/login", data=form)
    assert refused.status_code == 200 and "AADSTS50126" in refused.text
    accepted = http.post(f"{emulator.base_url}/common/login", data={**form, "password": "hopper"})
    assert redirect_params(accepted)["code"]


# --- token endpoint errors --------------------------------------------------------------------


def test_wrong_client_secret_is_invalid_client(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    response, verifier = authorize(http, emulator, ada)
    code = redirect_params(response)["code"]
    wrong = http.post(
        emulator.token_url(),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(ada.client_id, "not-the-secret"),
    )
    assert_identity_error(wrong, 401, "invalid_client", 7000215)


def test_code_is_single_use(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    response, verifier = authorize(http, emulator, ada)
    code = redirect_params(response)["code"]
    assert redeem(http, emulator, ada, code, verifier).status_code == 200
    assert_identity_error(redeem(http, emulator, ada, code, verifier), 400, "invalid_grant", 54005)


def test_code_expires_after_ten_minutes(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    response, verifier = authorize(http, emulator, ada)
    emulator.advance_clock(601)
    expired = redeem(http, emulator, ada, redirect_params(response)["code"], verifier)
    assert_identity_error(expired, 400, "invalid_grant", 70008)


def test_wrong_pkce_verifier(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    response, _ = authorize(http, emulator, ada)
    other_verifier, _ = pkce_pair()
    wrong = redeem(http, emulator, ada, redirect_params(response)["code"], other_verifier)
    assert_identity_error(wrong, 400, "invalid_grant", 501481)


@pytest.mark.parametrize("error_code", [70008, 50173])
def test_revoked_refresh_token(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration, error_code: int
) -> None:
    tokens = connect(http, emulator, ada)
    assert emulator.revoke_refresh_tokens(ada.user_id, error_code=error_code) == 1
    revoked = refresh(http, emulator, ada, tokens["refresh_token"])
    assert_identity_error(revoked, 400, "invalid_grant", error_code)


def test_strict_rotation_revokes_the_chain_on_reuse(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    emulator.configure(strict_rotation=True)
    first = connect(http, emulator, ada)["refresh_token"]
    second = refresh(http, emulator, ada, first).json()["refresh_token"]
    assert_identity_error(refresh(http, emulator, ada, first), 400, "invalid_grant", 70008)
    assert_identity_error(refresh(http, emulator, ada, second), 400, "invalid_grant", 70008)


def test_token_endpoint_faults(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    tokens = connect(http, emulator, ada)
    emulator.add_fault("token", "status", status=429, retry_after=7, grant_type="refresh_token")
    throttled = refresh(http, emulator, ada, tokens["refresh_token"])
    assert_identity_error(throttled, 429, "temporarily_unavailable", 90055)
    assert throttled.headers["retry-after"] == "7"

    emulator.add_fault("token", "status", status=500)
    assert_identity_error(
        refresh(http, emulator, ada, tokens["refresh_token"]), 500, "server_error", 50000
    )

    emulator.add_fault("token", "garbage")
    garbled = refresh(http, emulator, ada, tokens["refresh_token"])
    assert garbled.status_code == 200
    with pytest.raises(ValueError):
        garbled.json()

    emulator.add_fault("token", "delay", seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            emulator.token_url(),
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(ada.client_id, SECRET),
            timeout=0.3,
        )
    # Faults are one-shot: the next refresh is served normally.
    assert refresh(http, emulator, ada, tokens["refresh_token"]).status_code == 200


# --- /authorize errors shown on Microsoft's own page ------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"redirect_uri": "https://evil.example/callback"}, "AADSTS50011"),
        ({"client_id": "00000000-0000-0000-0000-000000000000"}, "AADSTS700016"),
        ({"tenant": "no-such-tenant.example"}, "AADSTS90002"),
    ],
)
def test_authorize_errors_are_not_redirected(
    emulator: MicrosoftEmulator,
    http: httpx.Client,
    ada: Registration,
    overrides: dict[str, str],
    code: str,
) -> None:
    response, _ = authorize(http, emulator, ada, **overrides)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert f"<span id='error-code'>{code}</span>" in response.text


def test_invalid_scope_is_redirected(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    response, _ = authorize(http, emulator, ada, scope="openid Mail.Teleport")
    params = redirect_params(response)
    assert params["error"] == "invalid_scope" and params["error_description"].startswith(
        "AADSTS70011"
    )


# --- Graph errors -----------------------------------------------------------------------------


def test_expired_access_token_is_rejected_by_graph(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    tokens = connect(http, emulator, ada)
    assert emulator.expire_access_tokens(ada.user_id) == 1
    response = http.get(emulator.graph_url("me"), headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"] == "Access token has expired or is not yet valid."
    assert {"date", "request-id"} <= error["innerError"].keys()
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_graph_checks_permissions(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    token = connect(http, emulator, ada, scope="offline_access User.Read")["access_token"]
    assert http.get(emulator.graph_url("me"), headers=bearer(token)).status_code == 200
    messages = http.get(emulator.graph_url("me/messages"), headers=bearer(token))
    assert messages.status_code == 403
    assert messages.json()["error"]["code"] == "ErrorAccessDenied"
    send = http.post(emulator.graph_url("me/sendMail"), json={}, headers=bearer(token))
    assert send.status_code == 403


def test_graph_throttling(
    emulator: MicrosoftEmulator, http: httpx.Client, ada: Registration
) -> None:
    token = connect(http, emulator, ada)["access_token"]
    emulator.throttle_graph(count=2, retry_after=3)
    for _ in range(2):
        throttled = http.get(emulator.graph_url("me/messages"), headers=bearer(token))
        assert throttled.status_code == 429
        assert throttled.headers["retry-after"] == "3"
        assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert http.get(emulator.graph_url("me/messages"), headers=bearer(token)).status_code == 200
