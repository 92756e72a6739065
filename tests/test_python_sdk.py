"""The Python SDK against a running server, the way a developer's backend uses it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.xkit import PlatformCredentials, XkitServer
from xkit.client import (
    AsyncXkit,
    NotFound,
    ReconnectRequired,
    WebhookVerificationError,
    Xkit,
    sign_webhook,
    verify_webhook,
)


@pytest.fixture
def sdk(platform: PlatformCredentials, xkit_server: XkitServer) -> Xkit:
    with Xkit(xkit_server.url, platform.publishable_key, platform.secret_key) as client:
        yield client  # type: ignore[misc]


def test_context_token_and_connection_lifecycle(
    sdk: Xkit,
    connected: dict[str, str],
    microsoft: MicrosoftEmulator,
) -> None:
    context = sdk.create_context("user-1", name="Ada", plan="pro")
    assert context.external_name == "Ada" and context.attributes["plan"] == "pro"
    assert context.token.count(".") == 2

    token = sdk.get_access_token("user-1", "outlook-email")
    connection = sdk.get_connection("user-1", "outlook-email")
    assert connection.access_token == token and connection.account_label == "ada@contoso.test"
    assert [c.connector for c in sdk.list_connections("user-1")] == ["outlook-email"]

    microsoft.add_message(connected["user_id"], subject="From the SDK test")
    messages = sdk.proxy(connection.id, "GET", "me/messages", params={"$top": 1})
    assert messages.status_code == 200
    assert messages.json()["value"][0]["subject"] == "From the SDK test"
    sent = sdk.proxy(
        connection.id,
        "POST",
        "me/sendMail",
        json={
            "message": {
                "subject": "Hi",
                "body": {"contentType": "Text", "content": "Hello"},
                "toRecipients": [{"emailAddress": {"address": "grace@contoso.test"}}],
            }
        },
    )
    assert sent.status_code == 202

    assert sdk.delete_connection(connection.id)["deleted"] is True
    with pytest.raises(NotFound):
        sdk.get_connection("user-1", "outlook-email")


def test_errors_say_what_to_do(
    sdk: Xkit,
    connected: dict[str, str],
    microsoft: MicrosoftEmulator,
) -> None:
    with pytest.raises(NotFound) as missing:
        sdk.get_connection("nobody", "outlook-email")
    assert missing.value.code == "context_not_found"
    microsoft.revoke_refresh_tokens(connected["user_id"])
    with pytest.raises(ReconnectRequired) as broken:
        sdk.get_access_token("user-1", "outlook-email")
    assert broken.value.error_code == "AADSTS70008"


def test_async_twin(
    platform: PlatformCredentials, xkit_server: XkitServer, connected: dict[str, str]
) -> None:
    async def main() -> tuple[str, list[str]]:
        async with AsyncXkit(
            xkit_server.url, platform.publishable_key, platform.secret_key
        ) as client:
            token = await client.get_access_token("user-1", "outlook-email")
            listed = await client.list_connections("user-1")
            return token, [c.status for c in listed]

    token, statuses = asyncio.run(main())
    assert token and statuses == ["connected"]


@pytest.mark.database_independent
def test_verify_webhook_accepts_good_and_refuses_bad_signatures() -> None:
    body = b'{"id": "evt_1", "event_type": "connection.enabled"}'
    now = int(time.time())
    header = sign_webhook("whsec", body, now)
    verify_webhook(body, header, "whsec")
    Xkit.verify_webhook(body, header, "whsec")
    for bad_body, bad_header, secret in [
        (body + b" ", header, "whsec"),
        (body, header, "other-secret"),
        (body, None, "whsec"),
        (body, "t=abc,v1=00", "whsec"),
        (body, sign_webhook("whsec", body, now - 3600), "whsec"),
    ]:
        with pytest.raises(WebhookVerificationError):
            verify_webhook(bad_body, bad_header, secret)


def test_ids_with_url_characters_reach_the_right_route(sdk: Xkit) -> None:
    context = sdk.create_context("team?42#eu")
    assert context.external_id == "team?42#eu"
    assert sdk.list_connections("team?42#eu") == []
    with pytest.raises(NotFound):
        sdk.get_connection("team?42#eu", "outlook-email")


def test_the_guides_example_runs_as_written(
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    connected: dict[str, str],
    microsoft: MicrosoftEmulator,
) -> None:
    """docs/python-sdk.md's first example, with this server's URL and keys filled in."""
    guide = (Path(__file__).parent.parent / "docs" / "python-sdk.md").read_text()
    example = guide.split("```python\n", 1)[1].split("```", 1)[0]
    example = (
        example.replace("http://127.0.0.1:8000", xkit_server.url)
        .replace("xkit_pk_…", platform.publishable_key)
        .replace("xkit_sk_…", platform.secret_key)
        .replace('"user-42"', '"user-1"')
    )
    microsoft.add_message(connected["user_id"], subject="Minutes of Monday")
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/python-sdk.md", "exec"), namespace)
    assert str(namespace["integrations_token"]("user-1")).count(".") == 2  # type: ignore[operator]
    namespace["mail_digest"]("user-1")  # type: ignore[operator]
    sent = microsoft.sent_mail(connected["user_id"])[-1]["message"]
    assert sent["subject"] == "Your inbox today"
    assert "Minutes of Monday" in sent["body"]["content"]
    assert namespace["token"]
