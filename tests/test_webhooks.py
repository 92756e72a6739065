"""Webhooks end to end: a receiver server, the shared ``xkit serve`` (its worker sends the
outbox), connections made through the Microsoft emulator, and the Platform API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.database import raw_dump
from tests.support.flow import new_end_user, outlook_connector, sign_in_at_provider
from tests.support.webhooks import WebhookReceiver
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.errors import InvalidInput
from xkit.services.webhooks.subscriptions import check_url
from xkit_client import WebhookVerificationError, Xkit, verify_webhook

TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"
PASSWORD = "correct horse battery"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


def subscribe(api: httpx.Client, url: str, **fields: Any) -> dict[str, Any]:
    created = api.post("/api/platform/webhooks", json={"url": url, **fields})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def connect(api: httpx.Client, server: XkitServer, platform: PlatformCredentials,
            microsoft: MicrosoftEmulator, external_id: str = "user-1") -> dict[str, Any]:
    """An Outlook connector (the first time) and ``external_id`` connected through it."""
    if api.get("/api/platform/connectors/outlook-email").status_code == 404:
        outlook_connector(api, server, platform, microsoft)
    mail = f"{external_id}@contoso.test"
    user = microsoft.add_user(mail=mail, password=PASSWORD)
    end_user = new_end_user(server, platform, external_id)
    _, to_provider = end_user.start_popup("outlook-email")
    assert sign_in_at_provider(to_provider, microsoft, login=mail,
                               password=PASSWORD).status_code == 200
    return {"user": user, "end_user": end_user}


def deliveries(api: httpx.Client, webhook_id: str, **params: str) -> list[dict[str, Any]]:
    listed = api.get(f"/api/platform/webhooks/{webhook_id}/deliveries", params=params)
    assert listed.status_code == 200, listed.text
    return listed.json()["deliveries"]  # type: ignore[no-any-return]


def wait_for_log(api: httpx.Client, webhook_id: str, condition: Any, *,
                 timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = deliveries(api, webhook_id)
        if condition(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# --- events, signed ---------------------------------------------------------------------------

def test_a_new_connection_arrives_signed_and_verifiable(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, receiver: WebhookReceiver,
        xkit_environment: XkitEnvironment) -> None:
    webhook = subscribe(api, receiver.url, description="backend")
    secret = webhook["signing_secret"]
    assert secret.startswith("whsec_")
    connect(api, xkit_server, platform, microsoft)

    delivery = receiver.wait_for_event("connection.enabled")
    Xkit.verify_webhook(delivery.body, delivery.headers["xkit-signature"], secret)
    with pytest.raises(WebhookVerificationError):
        Xkit.verify_webhook(delivery.body, delivery.headers["xkit-signature"], "whsec_wrong")
    with pytest.raises(WebhookVerificationError):  # a replay, an hour later
        verify_webhook(delivery.body, delivery.headers["xkit-signature"], secret,
                       now=time.time() + 3600)
    event = delivery.event
    assert set(event) == {"id", "event_type", "created_at", "payload"}
    assert event["event_type"] == "connection.enabled"
    assert delivery.headers["xkit-event-id"] == event["id"]
    assert delivery.headers["xkit-event-type"] == "connection.enabled"
    connection = api.get("/api/platform/contexts/user-1/connections").json()["connections"][0]
    assert event["payload"] == {
        "connector": {"slug": "outlook-email"},
        "context": {"external_id": "user-1"},
        "connection": {"id": connection["connection"]["id"], "status": "connected"},
    }

    log = wait_for_log(api, webhook["id"], lambda d: d and d[0]["status"] == "delivered")
    assert [(d["event_type"], d["status"], d["attempts"], d["last_response_code"])
            for d in log] == [("connection.enabled", "delivered", 1, 200)]
    assert log[0]["event_id"] == event["id"] and log[0]["last_duration_ms"] >= 0
    listed = api.get("/api/platform/webhooks").json()["webhooks"]
    assert listed[0]["deliveries"] == {"pending": 0, "delivered": 1, "failed": 0}
    assert secret not in api.get(f"/api/platform/webhooks/{webhook['id']}").text
    assert secret.encode() not in raw_dump(xkit_environment.database_url)
    assert secret not in xkit_server.output()


def test_a_revoked_grant_and_a_reconnect_are_announced(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, receiver: WebhookReceiver) -> None:
    subscribe(api, receiver.url)
    user = connect(api, xkit_server, platform, microsoft)["user"]
    receiver.wait_for_event("connection.enabled")

    microsoft.revoke_refresh_tokens(user["id"], error_code=70008)
    refused = api.get(TOKEN_PATH, params={"force_refresh": "true"})
    assert refused.status_code == 409, refused.text
    error = receiver.wait_for_event("connection.error").event["payload"]
    assert error["connection"]["status"] == "error"
    assert error["error"]["code"] == "AADSTS70008"
    assert "reconnect" in error["error"]["message"].lower()

    end_user = new_end_user(xkit_server, platform, "user-1")
    _, to_provider = end_user.start_popup("outlook-email")
    assert sign_in_at_provider(to_provider, microsoft, login="user-1@contoso.test",
                               password=PASSWORD).status_code == 200
    again = receiver.wait_for_event("connection.reconnected").event["payload"]
    assert again["connection"] == {"id": error["connection"]["id"], "status": "connected"}
    assert api.get(TOKEN_PATH).status_code == 200


def test_removing_connections_is_announced_whoever_removes_them(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, receiver: WebhookReceiver) -> None:
    subscribe(api, receiver.url, events=["connection.disabled"])
    by_backend = connect(api, xkit_server, platform, microsoft, "user-1")
    by_user = connect(api, xkit_server, platform, microsoft, "user-2")
    with_context = connect(api, xkit_server, platform, microsoft, "user-3")
    ids = {}
    for name in ("user-1", "user-2", "user-3"):
        listed = api.get(f"/api/platform/contexts/{name}/connections").json()["connections"]
        ids[name] = listed[0]["connection"]["id"]
    del by_backend, with_context

    assert api.delete(f"/api/platform/connections/{ids['user-1']}").status_code == 200
    assert by_user["end_user"].api("DELETE", f"/connections/{ids['user-2']}").status_code == 204
    assert api.delete("/api/platform/contexts/user-3").status_code in (200, 204)

    receiver.wait_until(lambda r: len(r.accepted()) == 3, what="three connection.disabled")
    payloads = sorted((r.event["payload"] for r in receiver.accepted()),
                      key=lambda p: p["context"]["external_id"])
    assert [(p["context"]["external_id"], p["connection"]) for p in payloads] == [
        (name, {"id": ids[name], "status": "removed"}) for name in ("user-1", "user-2", "user-3")]
    # the subscription asked for connection.disabled only: the three connects were not sent
    assert {r.headers["xkit-event-type"] for r in receiver.snapshot()} == {"connection.disabled"}


# --- retries, pause, resume, redelivery -------------------------------------------------------

def test_a_receiver_that_fails_once_gets_the_event_on_retry(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, receiver: WebhookReceiver) -> None:
    webhook = subscribe(api, receiver.url)
    receiver.answer(500, 200)
    connect(api, xkit_server, platform, microsoft)

    receiver.wait_for_event("connection.enabled")
    first, second = receiver.snapshot()
    assert (first.answered, second.answered) == (500, 200)
    assert first.body == second.body and first.event_id == second.event_id
    assert (first.headers["xkit-delivery-attempt"], second.headers["xkit-delivery-attempt"]) \
        == ("1", "2")
    log = wait_for_log(api, webhook["id"], lambda d: d[0]["status"] == "delivered")
    assert (log[0]["status"], log[0]["attempts"], log[0]["last_response_code"]) \
        == ("delivered", 2, 200)


def test_a_receiver_that_keeps_failing_is_paused_then_resumed_without_losing_events(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator) -> None:
    with WebhookReceiver(default_status=503) as down:
        webhook = subscribe(api, down.url)
        connect(api, xkit_server, platform, microsoft, "user-1")
        down.wait_until(lambda r: len(r.snapshot()) == 4, what="four failed attempts")
        deadline = time.monotonic() + 10
        while not (state := api.get(f"/api/platform/webhooks/{webhook['id']}").json())["paused"]:
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert "4 failed attempts" in state["paused_reason"]
        assert "HTTP 503" in state["paused_reason"]
        log = deliveries(api, webhook["id"])
        assert (log[0]["status"], log[0]["attempts"]) == ("failed", 4)
        assert log[0]["last_error"].startswith("HTTP 503: receiver is down")

        # While paused, new events wait: nothing more is sent.
        connect(api, xkit_server, platform, microsoft, "user-2")
        time.sleep(1.0)
        assert len(down.snapshot()) == 4
        assert state_counts(api, webhook["id"]) == {"pending": 1, "delivered": 0, "failed": 1}
        refused = api.post(f"/api/platform/webhooks/{webhook['id']}/deliveries/"
                           f"{log[0]['id']}/redeliver")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "webhook_paused"

        down.default_status = 200  # the developer fixed the receiver
        resumed = api.post(f"/api/platform/webhooks/{webhook['id']}/resume")
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["deliveries_queued"] == 2
        assert resumed.json()["webhook"]["paused"] is False
        down.wait_until(lambda r: len(r.accepted()) == 2, what="both events after resume")
        contexts = sorted(r.event["payload"]["context"]["external_id"] for r in down.accepted())
        assert contexts == ["user-1", "user-2"]


def state_counts(api: httpx.Client, webhook_id: str) -> dict[str, int]:
    return api.get(f"/api/platform/webhooks/{webhook_id}").json()["deliveries"]  # type: ignore[no-any-return]


def test_redelivery_sends_the_same_event_again(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, receiver: WebhookReceiver) -> None:
    webhook = subscribe(api, receiver.url)
    connect(api, xkit_server, platform, microsoft)
    original = receiver.wait_for_event("connection.enabled")
    log = wait_for_log(api, webhook["id"], lambda d: d[0]["status"] == "delivered")

    queued = api.post(f"/api/platform/webhooks/{webhook['id']}/deliveries/{log[0]['id']}"
                      "/redeliver")
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "pending"
    receiver.wait_until(lambda r: len(r.accepted()) == 2, what="the redelivery")
    again = receiver.accepted()[1]
    assert again.event_id == original.event_id and again.body == original.body
    Xkit.verify_webhook(again.body, again.headers["xkit-signature"], webhook["signing_secret"])
    log = wait_for_log(api, webhook["id"], lambda d: d[0]["status"] == "delivered")
    assert (log[0]["status"], log[0]["attempts"]) == ("delivered", 2)


def test_a_rotated_secret_signs_the_next_deliveries(
        api: httpx.Client, xkit_server: XkitServer, platform: PlatformCredentials,
        microsoft: MicrosoftEmulator, receiver: WebhookReceiver) -> None:
    webhook = subscribe(api, receiver.url)
    rotated = api.post(f"/api/platform/webhooks/{webhook['id']}/rotate-secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["signing_secret"]
    assert new_secret != webhook["signing_secret"]
    connect(api, xkit_server, platform, microsoft)
    delivery = receiver.wait_for_event("connection.enabled")
    Xkit.verify_webhook(delivery.body, delivery.headers["xkit-signature"], new_secret)
    with pytest.raises(WebhookVerificationError):
        Xkit.verify_webhook(delivery.body, delivery.headers["xkit-signature"],
                            webhook["signing_secret"])


# --- the API refuses bad input ---------------------------------------------------------------

def test_bad_input_gets_clear_json_errors(
        api: httpx.Client, receiver: WebhookReceiver, other_platform: PlatformCredentials,
        xkit_server: XkitServer) -> None:
    def refused(response: httpx.Response, status: int, code: str) -> str:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code, response.text
        return str(response.json()["error"]["message"])

    post = "/api/platform/webhooks"
    refused(api.post(post, content=b"{not json", headers={"content-type": "application/json"}),
            400, "invalid_json")
    refused(api.post(post, json={}), 422, "invalid_input")
    refused(api.post(post, json={"url": 42}), 422, "invalid_input")
    assert "http(s) URL" in refused(api.post(post, json={"url": "ftp://example.com/x"}), 422,
                                    "invalid_input")
    assert "user name or password" in refused(
        api.post(post, json={"url": "https://me:pw@example.com/x"}), 422, "invalid_input")
    assert "unknown event type" in refused(
        api.post(post, json={"url": receiver.url, "events": ["connection.exploded"]}), 422,
        "invalid_input")
    refused(api.post(post, json={"url": receiver.url, "events": "connection.enabled"}), 422,
            "invalid_input")
    refused(api.post(post, json={"url": receiver.url, "secret": "mine"}), 422, "invalid_input")
    refused(api.post(post, json={"url": "https://" + "a" * 2050}), 422, "invalid_input")
    assert "cannot be resolved" in refused(
        api.post(post, json={"url": "https://no-such-host.invalid/hook"}), 422, "invalid_input")

    webhook = subscribe(api, receiver.url)
    path = f"{post}/{webhook['id']}"
    refused(api.patch(path, json={"enabled": "sometimes"}), 422, "invalid_input")
    refused(api.patch(path, json={"signing_secret": "x"}), 422, "invalid_input")
    refused(api.get(f"{path}/deliveries", params={"status": "lost"}), 422, "invalid_input")
    refused(api.get(f"{path}/deliveries", params={"limit": 0}), 422, "invalid_input")
    refused(api.post(f"{path}/deliveries/nope/redeliver"), 404, "delivery_not_found")
    refused(api.get(f"{post}/nope"), 404, "webhook_not_found")
    with other_platform.client(xkit_server) as other:  # another platform's key sees nothing
        refused(other.get(path), 404, "webhook_not_found")
        refused(other.delete(path), 404, "webhook_not_found")
        assert other.get(post).json() == {"webhooks": []}

    changed = api.patch(path, json={"events": ["connection.error"], "enabled": False})
    assert changed.status_code == 200
    assert (changed.json()["events"], changed.json()["enabled"]) == (["connection.error"], False)
    assert api.delete(path).json() == {"deleted": True}
    refused(api.get(path), 404, "webhook_not_found")


async def test_private_and_loopback_receivers_are_refused_unless_allowed() -> None:
    for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.7/hook",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/hook",
                # IPv6 spellings of internal IPv4 (NAT64, 6to4, compatible, mapped)
                "http://[64:ff9b::7f00:1]/hook", "http://[2002:7f00:1::]/hook",
                "http://[::127.0.0.1]/hook", "http://[::ffff:10.0.0.7]/hook"):
        with pytest.raises(InvalidInput, match="private or loopback"):
            await check_url(url, allow_private=False)
        assert await check_url(url, allow_private=True) == url


def test_the_webhooks_api_is_documented(xkit_server: XkitServer) -> None:
    spec = httpx.get(f"{xkit_server.url}/openapi.json").json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/platform/webhooks"])
    assert {"get", "patch", "delete"} <= set(paths["/api/platform/webhooks/{webhook_id}"])
    for suffix in ("/resume", "/rotate-secret", "/deliveries",
                   "/deliveries/{delivery_id}/redeliver"):
        assert f"/api/platform/webhooks/{{webhook_id}}{suffix}" in paths
    created = spec["components"]["schemas"]["WebhookCreated"]
    assert "signing_secret" in created["properties"]
    assert "signing_secret" not in spec["components"]["schemas"]["WebhookOut"]["properties"]
    assert json.dumps(spec).count("Shown only in this answer") >= 1
