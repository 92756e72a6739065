"""The Python SDK against a running server, the way a developer's backend uses it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.webhooks import WebhookReceiver
from tests.support.xkit import PlatformCredentials, XkitServer
from xkit.client import (
    AsyncXkit,
    NotFound,
    ReconnectRequired,
    UnsafeProxyPath,
    WebhookVerificationError,
    Xkit,
    sign_webhook,
    verify_webhook,
)
from xkit.webhook_signature import standard_secret


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


CLIMBING_PATHS = [
    "../../contexts/user-1/connections/outlook-email",
    "me/../../../contexts/user-1/connections/outlook-email",
    "%2e%2e/%2e%2e/contexts/user-1/connections/outlook-email",
    "%2E./%2E%2E/contexts/user-1",
    ".%2e/.%2e/contexts/user-1",
    "%252e%252e/%252e%252e/contexts/user-1",
    "me/./messages",
    "me\\..\\..\\contexts",
    "me/%5c../x",
]


def test_proxy_paths_that_climb_out_are_refused_before_sending(
    platform: PlatformCredentials, xkit_server: XkitServer, connected: dict[str, str],
    microsoft: MicrosoftEmulator,
) -> None:
    """An app that builds the proxy path from its user's input must not hand that user
    another context's token: httpx would resolve ``..`` into ``/api/platform/contexts/…``."""
    sent: list[str] = []

    def record(request: httpx.Request) -> None:
        sent.append(request.url.path)

    async def arecord(request: httpx.Request) -> None:
        sent.append(request.url.path)

    options = {"base_url": xkit_server.url, "auth": platform.basic_auth,
               "event_hooks": {"request": [record]}}
    with Xkit(xkit_server.url, platform.publishable_key, platform.secret_key,
              http=httpx.Client(**options)) as sdk:  # type: ignore[arg-type]
        connection = sdk.get_connection("user-1", "outlook-email")
        sent.clear()
        for path in CLIMBING_PATHS:
            with pytest.raises(UnsafeProxyPath):
                sdk.proxy(connection.id, "GET", path)
        assert sent == []
        microsoft.add_message(connected["user_id"], subject="Q3..Q4 plans")
        fine = sdk.proxy(connection.id, "GET", "me/messages", params={"$top": 1})
        assert fine.status_code == 200

    async def from_async() -> None:
        async_options = {**options, "event_hooks": {"request": [arecord]}}
        async with AsyncXkit(xkit_server.url, platform.publishable_key, platform.secret_key,
                             http=httpx.AsyncClient(**async_options)) as client:  # type: ignore[arg-type]
            for path in CLIMBING_PATHS:
                with pytest.raises(UnsafeProxyPath):
                    await client.proxy(connection.id, "GET", path)
            assert (await client.proxy(connection.id, "GET", "me/messages")).status_code == 200

    sent.clear()
    asyncio.run(from_async())
    assert sent == [f"/api/platform/proxy/{connection.id}/me/messages"]


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


def test_webhooks_through_the_sdk(sdk: Xkit, connected: dict[str, str],
                                  platform: PlatformCredentials,
                                  xkit_server: XkitServer) -> None:
    with WebhookReceiver() as receiver:
        webhook = sdk.create_webhook(receiver.url, events=["connection.disabled"],
                                     description="sdk")
        assert webhook.signing_secret and webhook.events == ["connection.disabled"]
        assert [w.id for w in sdk.list_webhooks()] == [webhook.id]
        assert sdk.list_webhooks()[0].signing_secret is None
        assert webhook.standard_webhooks_secret == standard_secret(webhook.signing_secret)
        assert sdk.list_webhooks()[0].standard_webhooks_secret is None

        sdk.delete_connection(sdk.get_connection("user-1", "outlook-email").id)
        removed = receiver.wait_for_event("connection.disabled")
        sdk.verify_webhook(removed.body, removed.headers["xkit-signature"],
                           webhook.signing_secret)
        deadline = time.monotonic() + 10
        while (log := sdk.webhook_deliveries(webhook.id))[0]["status"] != "delivered":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert sdk.redeliver(webhook.id, log[0]["id"])["status"] == "pending"
        receiver.wait_until(lambda r: len(r.accepted()) == 2, what="the redelivery")

        async def from_async() -> list[str]:
            async with AsyncXkit(xkit_server.url, platform.publishable_key,
                                 platform.secret_key) as client:
                listed = [w.id for w in await client.list_webhooks()]
                await client.delete_webhook(webhook.id)
                return listed

        assert asyncio.run(from_async()) == [webhook.id]
        assert sdk.list_webhooks() == []
