"""The proxy: the backend calls Graph through xkit with the connection's token."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from tests.test_tokens_microsoft import TOKEN_PATH
from xkit.errors import Forbidden
from xkit.services.tokens.proxy import ProxyRefused, check_public_address, target_url


@pytest.fixture
def proxy_base(api: httpx.Client, connected: dict[str, str]) -> str:
    connection_id = api.get(TOKEN_PATH).json()["connection"]["id"]
    return f"/api/platform/proxy/{connection_id}"


def test_list_messages_and_send_mail_through_the_proxy(
    api: httpx.Client,
    proxy_base: str,
    connected: dict[str, str],
    microsoft: MicrosoftEmulator,
) -> None:
    microsoft.add_message(connected["user_id"], subject="Quarterly numbers")
    listed = api.get(f"{proxy_base}/me/messages", params={"$top": "5", "$select": "subject"})
    assert listed.status_code == 200, listed.text
    assert [m["subject"] for m in listed.json()["value"]] == ["Quarterly numbers"]

    sent = api.post(
        f"{proxy_base}/me/sendMail",
        json={
            "message": {
                "subject": "Hello from xkit",
                "body": {"contentType": "Text", "content": "Hi"},
                "toRecipients": [{"emailAddress": {"address": "grace@contoso.test"}}],
            }
        },
    )
    assert sent.status_code == 202, sent.text
    sent_mail = microsoft.sent_mail(connected["user_id"])
    assert [m["message"]["subject"] for m in sent_mail] == ["Hello from xkit"]
    assert sent_mail[0]["recipients"]


def test_large_uploads_stream_through_with_their_own_limit(
    api: httpx.Client, proxy_base: str, connected: dict[str, str], microsoft: MicrosoftEmulator
) -> None:
    attachment = "QUJD" * 750_000  # 3 MB of base64: over the 1 MiB API limit
    sent = api.post(
        f"{proxy_base}/me/sendMail",
        json={
            "message": {
                "subject": "Big report",
                "body": {"contentType": "Text", "content": "attached"},
                "toRecipients": [{"emailAddress": {"address": "grace@contoso.test"}}],
                "attachments": [
                    {
                        "@odata.type": "#microsoft.graph.fileAttachment",
                        "name": "r.bin",
                        "contentBytes": attachment,
                    }
                ],
            }
        },
    )
    assert sent.status_code == 202, sent.text[:300]
    delivered = microsoft.sent_mail(connected["user_id"])[-1]["message"]
    assert delivered["attachments"][0]["contentBytes"] == attachment
    too_big = api.post(
        "/api/platform/connectors",
        content=b"x" * 2_000_000,
        headers={"Content-Type": "application/json"},
    )
    assert too_big.status_code == 413  # everything else keeps the 1 MiB limit


def test_a_401_from_the_provider_refreshes_once_and_retries(
    api: httpx.Client, proxy_base: str, microsoft: MicrosoftEmulator
) -> None:
    refreshes_before = microsoft.counters()["token_requests"]["refresh_token"]
    microsoft.expire_access_tokens()
    response = api.get(f"{proxy_base}/me")
    assert response.status_code == 200, response.text
    assert microsoft.counters()["token_requests"]["refresh_token"] == refreshes_before + 1


def test_a_429_with_short_retry_after_is_waited_out(
    api: httpx.Client, proxy_base: str, microsoft: MicrosoftEmulator
) -> None:
    microsoft.throttle_graph(count=1, retry_after=1)
    assert api.get(f"{proxy_base}/me").status_code == 200
    microsoft.throttle_graph(count=2, retry_after=1)
    throttled = api.get(f"{proxy_base}/me")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "1"


def test_provider_errors_come_back_as_they_are(api: httpx.Client, proxy_base: str) -> None:
    missing = api.get(f"{proxy_base}/me/nothing-here")
    assert missing.status_code in (400, 404)
    assert "error" in missing.json()


@pytest.mark.parametrize(
    "path", ["../../_emulator/counters", "me/../../x", "%2e%2e/x", "/etc/passwd"]
)
def test_paths_cannot_leave_the_api_base(api: httpx.Client, proxy_base: str, path: str) -> None:
    response = api.get(f"{proxy_base}/{path}")
    # httpx itself folds some dot segments before sending; either way nothing may leak.
    assert response.status_code != 200, response.text
    assert "value" not in response.text


def test_unknown_connection_and_other_platform(
    api: httpx.Client, proxy_base: str, other_platform, xkit_server
) -> None:  # type: ignore[no-untyped-def]
    assert api.get("/api/platform/proxy/nope/me").status_code == 404
    with other_platform.client(xkit_server) as theirs:
        assert theirs.get(f"{proxy_base}/me").status_code == 404


@pytest.mark.database_independent
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://[64:ff9b::7f00:1]/x",
        "https://[2002:7f00:1::]/x",
        "https://[::127.0.0.1]/x",
        "https://[::ffff:127.0.0.1]/x",
    ],
)
async def test_private_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(Forbidden):
        await check_public_address(url, allow_private=False)
    await check_public_address(url, allow_private=True)


@pytest.mark.database_independent
def test_target_url_joins_and_refuses_escapes() -> None:
    base = "https://graph.microsoft.com/v1.0"
    assert target_url(base, "me/messages", "$top=5") == f"{base}/me/messages?$top=5"
    for bad in ("../beta/me", "me/%2E%2E/%2e%2e/x", "/me", "a\\b"):
        with pytest.raises(ProxyRefused):
            target_url(base, bad, "")


def test_encoded_characters_in_ids_reach_the_provider_still_encoded(
    api: httpx.Client, proxy_base: str, microsoft: MicrosoftEmulator
) -> None:
    """Graph ids may hold '/' or '?', sent percent-encoded; decoding them on the way would
    change which resource the provider reads."""
    microsoft.clear_requests()
    api.get(f"{proxy_base}/me/messages/AAMk%2Fab%3Fc%23d")
    seen = [entry["raw_path"] for entry in microsoft.requests(path_prefix="/v1.0/me/messages")]
    assert seen == ["/v1.0/me/messages/AAMk%2Fab%3Fc%23d"]


def test_a_server_that_allows_no_private_networks_refuses_them(
    proxy_base: str,
    platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
    microsoft: MicrosoftEmulator,
    tmp_path: Path,
) -> None:
    """The production default: the emulator listens on 127.0.0.1, so the proxy must refuse."""
    strict = dataclasses.replace(
        xkit_environment,
        extra={**(xkit_environment.extra or {}), "XKIT_PROXY_ALLOW_PRIVATE_NETWORKS": "false"},
    )
    server = XkitServer(strict, tmp_path / "strict.log")
    try:
        microsoft.clear_requests()
        with platform.client(server) as client:
            refused = client.get(f"{proxy_base}/me")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "proxy_target_refused"
        assert microsoft.requests(path_prefix="/v1.0") == []
    finally:
        server.stop()
