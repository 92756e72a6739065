"""Backends get fresh tokens: refresh, reconnect-required and transient faults, against the
Microsoft emulator."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
from sqlalchemy import select

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.database import raw_dump
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.db.models import WebhookEvent
from xkit.runtime import Runtime

TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"


def _event_types(platform_id: str):  # type: ignore[no-untyped-def]
    """The outbox of one platform: (event type, error code) of every event written so far."""

    async def read(runtime: Runtime) -> list[tuple[str, str | None]]:
        async with runtime.sessions() as session:
            rows = (await session.scalars(
                select(WebhookEvent).where(WebhookEvent.platform_id == platform_id))).all()
        return [(e.event_type, (e.payload.get("error") or {}).get("code")) for e in rows]

    return read


def _refreshes(microsoft: MicrosoftEmulator) -> int:
    return int(microsoft.counters()["token_requests"].get("refresh_token", 0))


def test_token_is_refreshed_once_and_works_at_graph(
    api: httpx.Client,
    connected: dict[str, str],
    microsoft: MicrosoftEmulator,
    xkit_environment: XkitEnvironment,
) -> None:
    first = api.get(TOKEN_PATH)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["connection"]["status"] == "connected"
    assert body["authorization"]["display_label"] == "ada@contoso.test"
    assert _refreshes(microsoft) == 1
    second = api.get(TOKEN_PATH).json()
    assert second["authorization"]["access_token"] == body["authorization"]["access_token"]
    assert _refreshes(microsoft) == 1
    token = body["authorization"]["access_token"]
    with microsoft.client() as graph:
        me = graph.get(microsoft.graph_url("/me"), headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, (microsoft.graph_url("/me"), me.text)
    assert me.status_code == 200 and me.json()["mail"] == "ada@contoso.test"
    assert token.encode() not in raw_dump(xkit_environment.database_url)


def test_concurrent_requests_share_one_refresh(
    api: httpx.Client,
    connected: dict[str, str],
    microsoft: MicrosoftEmulator,
    platform: PlatformCredentials,
    xkit_server: XkitServer,
) -> None:
    def fetch(_: int) -> tuple[int, str]:
        with platform.client(xkit_server) as client:
            response = client.get(TOKEN_PATH)
            return response.status_code, response.json()["authorization"]["access_token"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(fetch, range(50)))
    assert {status for status, _ in results} == {200}
    assert len({token for _, token in results}) == 1
    assert _refreshes(microsoft) == 1


def test_force_refresh_refreshes_a_valid_token(
    api: httpx.Client, connected: dict[str, str], microsoft: MicrosoftEmulator
) -> None:
    first = api.get(TOKEN_PATH).json()["authorization"]["access_token"]
    forced = api.get(TOKEN_PATH, params={"force_refresh": "true"}).json()
    assert forced["authorization"]["access_token"] != first
    assert _refreshes(microsoft) == 2


def test_revoked_grant_means_reconnect_required(
    api: httpx.Client,
    connected: dict[str, str],
    microsoft: MicrosoftEmulator,
    xkit_environment: XkitEnvironment,
    platform: PlatformCredentials,
) -> None:
    microsoft.revoke_refresh_tokens(connected["user_id"], error_code=70008)
    response = api.get(TOKEN_PATH)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "reconnect_required"
    assert error["details"]["error_code"] == "AADSTS70008"
    again = api.get(TOKEN_PATH)
    assert again.status_code == 409
    assert _refreshes(microsoft) == 1, "a broken grant is not retried on every request"
    listed = api.get("/api/platform/contexts/user-1/connections").json()["connections"]
    assert listed[0]["connection"]["status"] == "error"
    events = xkit_environment.with_runtime(_event_types(platform.platform_id))
    assert ("connection.error", "AADSTS70008") in events


def test_transient_faults_are_retried_and_never_break_the_connection(
    api: httpx.Client, connected: dict[str, str], microsoft: MicrosoftEmulator
) -> None:
    microsoft.add_fault("token", "status", status=503, count=1, grant_type="refresh_token")
    recovered = api.get(TOKEN_PATH)
    assert recovered.status_code == 200, recovered.text

    api.get(TOKEN_PATH, params={"force_refresh": "true"})  # rotate once more, cleanly
    microsoft.add_fault(
        "token", "status", status=429, retry_after=1, count=5, grant_type="refresh_token"
    )
    throttled = api.get(TOKEN_PATH, params={"force_refresh": "true"})
    assert throttled.status_code == 503, throttled.text
    assert throttled.json()["error"]["code"] == "provider_unavailable"
    assert throttled.json()["error"]["details"]["retry_after"] >= 1
    microsoft.clear_faults()
    assert api.get(TOKEN_PATH).json()["connection"]["status"] == "connected"


def test_provider_timeout_is_transient(
    api: httpx.Client, connected: dict[str, str], microsoft: MicrosoftEmulator
) -> None:
    microsoft.add_fault("token", "delay", seconds=7, count=1, grant_type="refresh_token")
    response = api.get(TOKEN_PATH)
    # The first attempt timed out (5 s); the retry used the same refresh token, which the
    # emulator (like Microsoft) still honours, so the connection is fine.
    assert response.status_code == 200, response.text
    assert response.json()["connection"]["status"] == "connected"


def test_unknown_context_connector_and_connection(
    api: httpx.Client, connected: dict[str, str]
) -> None:
    assert api.get("/api/platform/contexts/nobody/connections").status_code == 404
    missing = api.get("/api/platform/contexts/nobody/connections/outlook-email")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "context_not_found"
    none = api.get("/api/platform/contexts/user-1/connections/other-connector")
    assert none.status_code == 404 and none.json()["error"]["code"] == "connection_not_found"
    assert api.get("/api/platform/connections/not-an-id").status_code == 404


def test_connection_by_id_and_removal(api: httpx.Client, connected: dict[str, str]) -> None:
    connection_id = api.get(TOKEN_PATH).json()["connection"]["id"]
    by_id = api.get(f"/api/platform/connections/{connection_id}")
    assert by_id.status_code == 200 and by_id.json()["authorization"]["access_token"]
    removed = api.delete(f"/api/platform/connections/{connection_id}")
    assert removed.status_code == 200
    assert removed.json() == {"deleted": True, "revocation": {"attempted": False}}
    assert api.get(f"/api/platform/connections/{connection_id}").status_code == 404
    assert api.get("/api/platform/contexts/user-1/connections").json() == {"connections": []}


def test_other_platform_cannot_read_the_token(
    other_platform: PlatformCredentials,
    xkit_server: XkitServer,
    api: httpx.Client,
    connected: dict[str, str],
) -> None:
    connection_id = api.get(TOKEN_PATH).json()["connection"]["id"]
    with other_platform.client(xkit_server) as theirs:
        assert theirs.get(TOKEN_PATH).status_code == 404
        assert theirs.get(f"/api/platform/connections/{connection_id}").status_code == 404
        assert theirs.delete(f"/api/platform/connections/{connection_id}").status_code == 404


def test_a_refused_client_secret_does_not_break_the_connection(
    api: httpx.Client,
    platform: PlatformCredentials,
    connected: dict[str, str],
    xkit_environment: XkitEnvironment,
) -> None:
    """An expired or mistyped client secret is the developer's to fix: the users' grants are
    fine, so no connection turns to *Reconnect* and no connection.error fires."""
    api.patch("/api/platform/connectors/outlook-email", json={"client_secret": "not-the-secret"})
    refused = api.get(TOKEN_PATH)
    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "provider_refused"
    listed = api.get("/api/platform/contexts/user-1/connections").json()["connections"]
    assert listed[0]["connection"]["status"] == "connected"
    events = xkit_environment.with_runtime(_event_types(platform.platform_id))
    assert not [event for event in events if event[0] == "connection.error"]

    api.patch(
        "/api/platform/connectors/outlook-email",
        json={"client_secret": connected["client_secret"]},
    )
    assert api.get(TOKEN_PATH).status_code == 200


def test_a_long_retry_after_answers_at_once_and_holds_everyone_back(
    api: httpx.Client, connected: dict[str, str], microsoft: MicrosoftEmulator
) -> None:
    microsoft.add_fault(
        "token", "status", status=429, retry_after=30, count=5, grant_type="refresh_token"
    )
    started = time.monotonic()
    throttled = api.get(TOKEN_PATH)
    assert time.monotonic() - started < 4, "a 30 s Retry-After is not waited out in a request"
    assert throttled.status_code == 503, throttled.text
    assert 25 <= int(throttled.headers["Retry-After"]) <= 30
    assert _refreshes(microsoft) == 1

    again = api.get(TOKEN_PATH)
    assert again.status_code == 503 and int(again.headers["Retry-After"]) <= 30
    assert _refreshes(microsoft) == 1, "nobody asks the provider again during its Retry-After"
    listed = api.get("/api/platform/contexts/user-1/connections").json()["connections"]
    assert listed[0]["connection"]["status"] == "connected"


def test_a_slow_provider_never_sees_the_same_refresh_twice(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
    connected: dict[str, str], microsoft: MicrosoftEmulator,
) -> None:
    """Three attempts that each time out (5 s in tests) outlast the lease a refresh starts
    with; the owner renews it before each attempt, so a request waiting meanwhile never
    takes over and sends the same refresh token alongside."""
    microsoft.add_fault("token", "delay", seconds=7, count=3, grant_type="refresh_token")

    def fetch() -> httpx.Response:
        with platform.client(xkit_server, timeout=90) as client:
            return client.get(TOKEN_PATH)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        owner = pool.submit(fetch)
        time.sleep(1)
        waiter = pool.submit(fetch)
        answers = [owner.result(), waiter.result()]
    assert [a.status_code for a in answers] == [503, 503], [a.text for a in answers]
    assert _refreshes(microsoft) == 3

    time.sleep(2.5)  # the cooldown after repeated failures
    recovered = api.get(TOKEN_PATH)
    assert recovered.status_code == 200, recovered.text
    assert _refreshes(microsoft) == 4


def test_a_connection_removed_during_its_refresh_is_not_found(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
    connected: dict[str, str], microsoft: MicrosoftEmulator,
) -> None:
    listed = api.get("/api/platform/contexts/user-1/connections").json()["connections"]
    connection_id = listed[0]["connection"]["id"]
    microsoft.add_fault("token", "delay", seconds=2, count=1, grant_type="refresh_token")
    with (
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool,
        platform.client(xkit_server) as client,
    ):
        fetching = pool.submit(client.get, TOKEN_PATH)
        time.sleep(0.8)
        assert api.delete(f"/api/platform/connections/{connection_id}").status_code == 200
        answer = fetching.result()
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "connection_not_found"
