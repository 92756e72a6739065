"""The Python SDK against a running server, the way a developer's backend uses it."""

from __future__ import annotations

import asyncio
import datetime as dt
import resource
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.flow import new_end_user
from tests.support.webhooks import WebhookReceiver
from tests.support.xkit import PlatformCredentials, XkitServer
from xkit.webhook_signature import sign_webhook as server_signature
from xkit.webhook_signature import standard_secret
from xkit_client import (
    AsyncXkit,
    Connection,
    ConnectionWithToken,
    ContextWithToken,
    CreatedWebhook,
    Delivery,
    NotFound,
    ProviderUnavailable,
    ReconnectRequired,
    UnsafeProxyPath,
    Webhook,
    WebhookVerificationError,
    Xkit,
    XkitConnectionError,
    XkitError,
    construct_event,
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
    assert isinstance(context, ContextWithToken)
    assert context.external_name == "Ada" and context.attributes["plan"] == "pro"
    assert context.token.count(".") == 2
    assert context.token_expires_at.tzinfo is not None
    assert context.token_expires_at > context.created_at
    assert sdk.get_context("user-1").attributes["plan"] == "pro"

    token = sdk.get_access_token("user-1", "outlook-email")
    connection = sdk.get_connection("user-1", "outlook-email")
    assert connection.access_token == token and connection.account_label == "ada@contoso.test"
    assert isinstance(connection.expires_at, dt.datetime)
    assert connection.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    listed = sdk.list_connections("user-1")
    assert [c.connector for c in listed] == ["outlook-email"]
    assert type(listed[0]) is Connection and not hasattr(listed[0], "access_token")
    assert listed[0].context == "user-1" and listed[0].account_label == "ada@contoso.test"
    assert listed[0].created_at == connection.created_at

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

    deleted = sdk.delete_connection(connection.id)
    assert deleted.deleted is True and deleted.revocation.attempted in (True, False)
    with pytest.raises(NotFound):
        sdk.get_connection("user-1", "outlook-email")
    sdk.delete_context("user-1")
    with pytest.raises(NotFound) as gone:
        sdk.get_context("user-1")
    assert gone.value.code == "context_not_found"


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
    header = sign_webhook(body, "whsec", timestamp=now)
    assert header == server_signature("whsec", body, now)  # the server's own signer agrees
    verify_webhook(body, header, "whsec")
    verify_webhook(body.decode(), header, "whsec")  # text, as some frameworks hand it over
    Xkit.verify_webhook(body, header, "whsec")
    for bad_body, bad_header, secret in [
        (body + b" ", header, "whsec"),
        (body, header, "other-secret"),
        (body, None, "whsec"),
        (body, "t=abc,v1=00", "whsec"),
        (body, sign_webhook(body, "whsec", timestamp=now - 3600), "whsec"),
        ({"id": "evt_1"}, header, "whsec"),  # parsed JSON is not the body
        (None, header, "whsec"),
    ]:
        with pytest.raises(WebhookVerificationError):
            verify_webhook(bad_body, bad_header, secret)  # type: ignore[arg-type]


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


def test_the_guides_examples_run_as_written(
    platform: PlatformCredentials,
    xkit_server: XkitServer,
    connected: dict[str, str],
    microsoft: MicrosoftEmulator,
    tmp_path: Path,
) -> None:
    """docs/python-sdk.md's examples, in order, with this server's URL and keys filled in."""
    guide = (Path(__file__).parent.parent / "docs" / "python-sdk.md").read_text()
    blocks = [part.split("```", 1)[0] for part in guide.split("```python\n")[1:]]
    example = "\n".join(blocks)
    example = (
        example.replace("http://127.0.0.1:8000", xkit_server.url)
        .replace("xkit_pk_…", platform.publishable_key)
        .replace("xkit_sk_…", platform.secret_key)
        .replace('"user-42"', '"user-1"')
    )
    microsoft.add_message(connected["user_id"], subject="Minutes of Monday")
    namespace: dict[str, Any] = {}
    exec(compile(example, "docs/python-sdk.md", "exec"), namespace)
    assert str(namespace["integrations_token"]("user-1")).count(".") == 2
    namespace["mail_digest"]("user-1")
    sent = microsoft.sent_mail(connected["user_id"])[-1]["message"]
    assert sent["subject"] == "Your inbox today"
    assert "Minutes of Monday" in sent["body"]["content"]
    assert namespace["token"]

    report = microsoft.add_message(connected["user_id"], subject="Report", attachments=[
        {"id": "report", "name": "report.pdf", "size": 3_000_000}])
    saved = tmp_path / "report.pdf"
    assert namespace["save_attachment"]("user-1", report["id"], "report", str(saved)) == 3_000_000
    assert saved.stat().st_size == 3_000_000
    assert namespace["users_to_nudge"]() == []
    assert asyncio.run(namespace["fresh_token"]("user-1")) == namespace["token"]

    body = b'{"created_at":"2026-12-01T09:30:12Z","event_type":"connection.error","id":"e1",' \
        b'"payload":{"connector":{"slug":"outlook-email"},"context":{"external_id":"user-1"},' \
        b'"connection":{"id":"c1","status":"error"},"error":{"code":"AADSTS70008","message":"m"}}}'
    secret = namespace["SIGNING_SECRET"]
    signed = {"Xkit-Signature": sign_webhook(body, secret)}
    assert namespace["handle_delivery"](body, signed) == 200
    assert namespace["handle_delivery"](body + b" ", signed) == 400
    namespace["xkit"].close()


def test_webhooks_through_the_sdk(sdk: Xkit, connected: dict[str, str],
                                  platform: PlatformCredentials,
                                  xkit_server: XkitServer) -> None:
    with WebhookReceiver() as receiver:
        webhook = sdk.create_webhook(receiver.url, events=["connection.disabled"],
                                     description="sdk")
        assert isinstance(webhook, CreatedWebhook)
        assert webhook.signing_secret and webhook.events == ["connection.disabled"]
        assert [w.id for w in sdk.list_webhooks()] == [webhook.id]
        assert type(sdk.list_webhooks()[0]) is Webhook  # no secret in a list
        assert not hasattr(sdk.get_webhook(webhook.id), "signing_secret")
        assert webhook.standard_webhooks_secret == standard_secret(webhook.signing_secret)

        sdk.delete_connection(sdk.get_connection("user-1", "outlook-email").id)
        removed = receiver.wait_for_event("connection.disabled")
        sdk.verify_webhook(removed.body, removed.headers["xkit-signature"],
                           webhook.signing_secret)
        event = construct_event(removed.body, removed.headers, webhook.signing_secret)
        assert event.event_type == "connection.disabled" and event.context == "user-1"
        assert event.connector == "outlook-email" and event.connection_status == "removed"
        assert event.created_at.tzinfo is not None and event.error is None
        with pytest.raises(WebhookVerificationError):
            construct_event(removed.body, {}, webhook.signing_secret)
        deadline = time.monotonic() + 10
        while (log := sdk.webhook_deliveries(webhook.id))[0].status != "delivered":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert isinstance(log[0], Delivery) and log[0].delivered_at is not None
        assert log[0].event_id == event.id and log[0].attempts == 1
        again = sdk.redeliver(webhook.id, log[0].id)
        assert again.status == "pending"
        receiver.wait_until(lambda r: len(r.accepted()) == 2, what="the redelivery")

        changed = sdk.update_webhook(webhook.id, description="renamed", events=[])
        assert changed.description == "renamed" and changed.events == []
        rotated = sdk.rotate_webhook_secret(webhook.id)
        assert rotated.signing_secret != webhook.signing_secret
        resumed = sdk.resume_webhook(webhook.id)
        assert resumed.webhook.id == webhook.id and resumed.deliveries_queued == 0

        async def from_async() -> list[str]:
            async with AsyncXkit(xkit_server.url, platform.publishable_key,
                                 platform.secret_key) as client:
                listed = [w.id for w in await client.list_webhooks()]
                await client.delete_webhook(webhook.id)
                return listed

        assert asyncio.run(from_async()) == [webhook.id]
        assert sdk.list_webhooks() == []


def test_xkit_refusals_through_the_proxy_are_raised_provider_errors_are_not(
    sdk: Xkit, connected: dict[str, str], microsoft: MicrosoftEmulator,
) -> None:
    """A provider's 404 is the provider's answer to read; xkit's own 404 (no such connection)
    and 409 (reconnect) are exceptions, told apart by the ``Xkit-Error`` header."""
    connection = sdk.get_connection("user-1", "outlook-email")
    missing_message = sdk.proxy(connection.id, "GET", "me/messages/AAMkA-no-such-message")
    assert missing_message.status_code == 404
    assert missing_message.json()["error"]["code"] == "ErrorItemNotFound"
    assert "xkit-error" not in missing_message.headers
    assert len(missing_message.headers.get_list("date")) == 1  # the server's, not two

    # A provider (or a gateway before it) answering with xkit's header is not taken for xkit.
    microsoft.add_fault("graph", "status", status=503, path="/v1.0/me",
                        headers={"Xkit-Error": "reconnect_required"})
    spoofed = sdk.proxy(connection.id, "GET", "me")
    assert spoofed.status_code == 503 and "xkit-error" not in spoofed.headers

    with pytest.raises(NotFound) as no_connection:
        sdk.proxy("00000000-0000-0000-0000-000000000000", "GET", "me")
    assert no_connection.value.code == "connection_not_found"

    microsoft.revoke_refresh_tokens(connected["user_id"])
    microsoft.expire_access_tokens(connected["user_id"])
    with pytest.raises(ReconnectRequired) as broken:
        sdk.proxy(connection.id, "GET", "me")
    assert broken.value.error_code == "AADSTS70008"
    with pytest.raises(ReconnectRequired), sdk.stream_proxy(connection.id, "GET", "me"):
        pass


def test_retries_wait_out_a_providers_retry_after(
    sdk: Xkit, platform: PlatformCredentials, xkit_server: XkitServer,
    connected: dict[str, str], microsoft: MicrosoftEmulator,
) -> None:
    """Graph throttles twice with ``Retry-After: 1``: the proxy waits out the first, the SDK
    the second, and the call succeeds; with retries off the 429 comes back as it is."""
    connection = sdk.get_connection("user-1", "outlook-email")
    microsoft.throttle_graph(count=2, retry_after=1)
    started = time.monotonic()
    me = sdk.proxy(connection.id, "GET", "me")
    assert me.status_code == 200, me.text
    assert time.monotonic() - started >= 2.0

    microsoft.throttle_graph(count=2, retry_after=1)
    with Xkit(xkit_server.url, platform.publishable_key, platform.secret_key,
              max_retries=0) as impatient:
        throttled = impatient.proxy(connection.id, "GET", "me")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "1"

    microsoft.throttle_graph(count=1, retry_after=30)  # longer than max_retry_wait: yours
    started = time.monotonic()
    later = sdk.proxy(connection.id, "GET", "me")
    assert later.status_code == 429 and later.headers["retry-after"] == "30"
    assert time.monotonic() - started < 5

    microsoft.throttle_graph(count=2, retry_after=1)  # a POST is never sent twice by the SDK
    sent = sdk.proxy(connection.id, "POST", "me/sendMail", json={"message": {
        "subject": "Once", "body": {"contentType": "Text", "content": "x"},
        "toRecipients": [{"emailAddress": {"address": "grace@contoso.test"}}]}})
    assert sent.status_code == 429
    assert microsoft.sent_mail(connected["user_id"]) == []
    microsoft.clear_faults()


def test_an_unreachable_server_is_an_xkit_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    attempts: list[str] = []
    client = httpx.Client(base_url=closed, auth=("pk", "sk"),
                          event_hooks={"request": [lambda r: attempts.append(r.url.path)]})
    with (Xkit(closed, "pk", "sk", http=client, max_retries=2) as sdk,
          pytest.raises(XkitConnectionError) as failed):
        sdk.get_connection("user-1", "outlook-email")
    assert isinstance(failed.value, XkitError) and failed.value.status == 0
    assert isinstance(failed.value.__cause__, httpx.ConnectError)
    assert len(attempts) == 3  # the call and two retries

    async def from_async() -> None:
        async with AsyncXkit(closed, "pk", "sk", max_retries=0) as client:
            await client.create_context("user-1")

    with pytest.raises(XkitConnectionError):
        asyncio.run(from_async())


@pytest.mark.database_independent
def test_records_never_show_secrets() -> None:
    answer = {
        "connection": {"id": "c1", "connector": {"slug": "slack", "name": "Slack"},
                       "enabled": True, "status": "connected", "authorization": None,
                       "created_at": "2026-12-01T09:30:12.345678+00:00"},
        "connector": {"slug": "slack", "name": "Slack", "provider": "slack"},
        "context": {"external_id": "user-42"},
        "authorization": {"id": "a1", "status": "active", "access_token": "xoxb-SECRET-1",
                          "token_type": "Bearer", "expires_at": "2026-12-01T10:30:12Z",
                          "granted_scopes": ["chat:write"], "provider_account_id": "T1",
                          "display_label": "Acme", "extras": {"user_token": "xoxp-SECRET-2"},
                          "credentials": {"api_key": "SECRET-3"}},
    }
    connection = ConnectionWithToken.from_api(answer)
    assert connection.expires_at == dt.datetime(2026, 12, 1, 10, 30, 12, tzinfo=dt.UTC)
    assert connection.created_at.tzinfo is not None
    for shown in (repr(connection), str(connection)):
        assert "SECRET" not in shown and "c1" in shown and "slack" in shown
    created = CreatedWebhook.from_api({
        "id": "w1", "url": "https://api.example.com/hooks", "description": "", "events": [],
        "enabled": True, "paused": False, "paused_at": None, "paused_reason": None,
        "created_at": "2026-12-01T09:30:12Z", "updated_at": "2026-12-01T09:30:12Z",
        "signing_secret": "whsec_SECRET", "standard_webhooks_secret": "whsec_U0VDUkVU"})
    assert "SECRET" not in repr(created) and "U0VDUkVU" not in repr(created)
    context = ContextWithToken.from_api({
        "context": {"id": "x1", "external_id": "user-42", "external_name": None,
                    "attributes": {}, "created_at": "2026-12-01T09:30:12Z",
                    "updated_at": "2026-12-01T09:30:12Z"},
        "access_token": "eyJ.SECRET.sig", "expires_at": "2026-12-01T10:30:12Z",
        "expires_in": 3600})
    assert "SECRET" not in repr(context) and "user-42" in repr(context)
    assert "sk_live" not in repr(Xkit("http://127.0.0.1:9", "pk", "sk_live_SECRET"))


@pytest.mark.database_independent
def test_error_answers_map_to_who_must_act() -> None:
    from xkit_client import ProviderRefused
    from xkit_client.errors import error_from

    def answer(status: int, code: str, **details: object) -> httpx.Response:
        return httpx.Response(status, headers={"Xkit-Error": code}, json={
            "error": {"code": code, "message": "m", "details": details}})

    unreachable = error_from(answer(502, "provider_unreachable"))
    assert isinstance(unreachable, ProviderUnavailable)
    throttled = error_from(answer(503, "provider_unavailable", retry_after=7))
    assert isinstance(throttled, ProviderUnavailable) and throttled.retry_after == 7.0
    assert isinstance(error_from(answer(502, "provider_refused")), ProviderRefused)
    assert type(error_from(answer(409, "slug_taken"))) is XkitError


def test_streaming_a_download_larger_than_it_could_hold(
    sdk: Xkit, platform: PlatformCredentials, xkit_server: XkitServer,
    connected: dict[str, str], microsoft: MicrosoftEmulator,
) -> None:
    """A 256 MiB attachment goes through xkit's proxy and the SDK in chunks: the test process
    never holds more than a sliver of it."""
    size = 256 * 1024 * 1024
    message = microsoft.add_message(connected["user_id"], subject="Backup", attachments=[
        {"id": "backup", "name": "backup.bin", "size": size}])
    path = f"me/messages/{message['id']}/attachments/backup/$value"
    connection = sdk.get_connection("user-1", "outlook-email")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    received = chunks = largest = 0
    with sdk.stream_proxy(connection.id, "GET", path) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            received += len(chunk)
            chunks += 1
            largest = max(largest, len(chunk))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert received == size
    assert chunks > 1000 and largest <= 1024 * 1024
    assert grown_kib < 64 * 1024, f"the process grew by {grown_kib} KiB while streaming"

    async def from_async() -> int:
        async with AsyncXkit(xkit_server.url, platform.publishable_key,
                             platform.secret_key) as client:
            small = microsoft.add_message(connected["user_id"], attachments=[
                {"id": "small", "name": "s.bin", "size": 300_000}])
            total = 0
            async with client.stream_proxy(
                    connection.id, "GET",
                    f"me/messages/{small['id']}/attachments/small/$value") as streamed:
                async for chunk in streamed.aiter_bytes():
                    total += len(chunk)
            with pytest.raises(NotFound):
                async with client.stream_proxy("no-such-connection", "GET", "me"):
                    pass
            return total

    assert asyncio.run(from_async()) == 300_000


def test_the_platforms_connections_page_by_page(
    sdk: Xkit, platform: PlatformCredentials, other_platform: PlatformCredentials,
    xkit_server: XkitServer, connected: dict[str, str],
) -> None:
    """Every connection of the platform, filtered by status, context or connector, in pages
    the SDK follows for you."""
    for number in range(4):  # four users who clicked Connect and have not finished
        new_end_user(xkit_server, platform, f"page-{number}").new_authorization("outlook-email")

    first = sdk.list_platform_connections(limit=2)
    assert len(first.connections) == 2 and first.next_cursor is not None
    everything = list(sdk.iter_connections(page_size=2))
    assert len({c.id for c in everything}) == len(everything) == 5
    assert {c.context for c in everything} == {"user-1", "page-0", "page-1", "page-2", "page-3"}

    assert [c.context for c in sdk.iter_connections(status="connected")] == ["user-1"]
    pending = list(sdk.iter_connections(status="pending", page_size=3))
    assert sorted(c.context for c in pending) == ["page-0", "page-1", "page-2", "page-3"]
    assert [c.context for c in sdk.iter_connections(context="page-2")] == ["page-2"]
    assert list(sdk.iter_connections(connector="outlook-email", status="error")) == []
    assert list(sdk.iter_connections(connector="no-such-connector")) == []

    with Xkit(xkit_server.url, other_platform.publishable_key,
              other_platform.secret_key) as other:
        assert list(other.iter_connections()) == []

    with platform.client(xkit_server) as api:
        for query in ({"cursor": "not a cursor!"}, {"status": "sleeping"}, {"limit": 0}):
            refused = api.get("/api/platform/connections", params=query)
            assert refused.status_code == 422, refused.text
            assert refused.headers["xkit-error"] == refused.json()["error"]["code"]

    async def from_async() -> list[str]:
        async with AsyncXkit(xkit_server.url, platform.publishable_key,
                             platform.secret_key) as client:
            return [c.id async for c in client.iter_connections(page_size=2)]

    assert sorted(asyncio.run(from_async())) == sorted(c.id for c in everything)


def test_the_platforms_contexts_page_by_page(
    sdk: Xkit, platform: PlatformCredentials, other_platform: PlatformCredentials,
    xkit_server: XkitServer,
) -> None:
    """Every context of the platform, a page at a time or all through an iterator."""
    made = {sdk.create_context(f"listed-{n}", name=f"User {n}").external_id
            for n in range(5)}
    first = sdk.list_contexts(limit=2)
    assert len(first.contexts) == 2 and first.next_cursor is not None
    second = sdk.list_contexts(limit=2, cursor=first.next_cursor)
    assert not {c.id for c in first.contexts} & {c.id for c in second.contexts}
    everyone = list(sdk.iter_contexts(page_size=2))
    assert len({c.id for c in everyone}) == len(everyone)
    assert made <= {c.external_id for c in everyone}
    assert all(c.created_at.tzinfo is not None for c in everyone)

    with Xkit(xkit_server.url, other_platform.publishable_key,
              other_platform.secret_key) as other:
        assert not made & {c.external_id for c in other.iter_contexts()}

    with platform.client(xkit_server) as api:
        for query in ({"cursor": "not a cursor!"}, {"limit": 0}, {"limit": 501}):
            refused = api.get("/api/platform/contexts", params=query)
            assert refused.status_code == 422, refused.text

    async def from_async() -> list[str]:
        async with AsyncXkit(xkit_server.url, platform.publishable_key,
                             platform.secret_key) as client:
            return [c.id async for c in client.iter_contexts(page_size=3)]

    assert sorted(asyncio.run(from_async())) == sorted(c.id for c in everyone)


def test_connectors_through_the_sdk(sdk: Xkit, connected: dict[str, str]) -> None:
    [listed] = sdk.list_connectors()
    outlook = sdk.get_connector("outlook-email")
    assert listed == outlook
    assert outlook.ready and outlook.client_secret_set and outlook.provider == "outlook-email"
    assert "offline_access" in outlook.required_scopes
    assert outlook.callback_url.endswith("/callback")
    assert outlook.created_at.tzinfo is not None
    with pytest.raises(NotFound) as missing:
        sdk.get_connector("no-such-connector")
    assert missing.value.code == "connector_not_found"


def test_retries_wait_out_xkits_own_provider_unavailable(
    sdk: Xkit, platform: PlatformCredentials, xkit_server: XkitServer,
    connected: dict[str, str], microsoft: MicrosoftEmulator,
) -> None:
    """Microsoft's token endpoint fails a refresh on every attempt xkit makes: xkit answers
    503 provider_unavailable with a retry_after, which the SDK waits out and tries again."""
    with Xkit(xkit_server.url, platform.publishable_key, platform.secret_key,
              max_retries=0) as impatient:
        microsoft.add_fault("token", "status", status=503, count=3, grant_type="refresh_token")
        with pytest.raises(ProviderUnavailable) as failing:
            impatient.get_connection("user-1", "outlook-email", force_refresh=True)
    assert failing.value.status == 503 and 0 < failing.value.retry_after <= 10
    microsoft.clear_faults()
    time.sleep(failing.value.retry_after)

    microsoft.add_fault("token", "status", status=503, count=3, grant_type="refresh_token")
    fresh = sdk.get_connection("user-1", "outlook-email", force_refresh=True)
    assert fresh.access_token and fresh.status == "connected"
