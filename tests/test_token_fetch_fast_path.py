"""The token fetch's one-query answer is the route's answer, in every case.

``xkit.services.tokens.fetch`` is the one implementation behind
``GET /api/platform/contexts/{id}/connections/{slug}`` (and by id). Called directly it must say
exactly what the documented route says over HTTP: these tests hold it to that for the common
case, then walk through every refusal, every 404, a refresh and a grant in error.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
from sqlalchemy import update

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.db.models import ApiKey, Authorization
from xkit.db.types import utcnow
from xkit.errors import XkitError
from xkit.runtime import Runtime
from xkit.services.configuration import api_keys
from xkit.services.tokens import fetch as token_fetch

TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"


def _direct(
    environment: XkitEnvironment,
    platform: PlatformCredentials,
    *,
    external_id: str = "user-1",
    slug: str = "outlook-email",
    publishable_key: str | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """The service's answer, shaped as the route's JSON: the body, or the error's code."""
    async def ask(runtime: Runtime) -> dict[str, Any]:
        try:
            return await token_fetch.fetch_token(
                runtime.token_deps, token_fetch.ByConnector(external_id, slug),
                secret=secret or platform.secret_key, publishable_key=publishable_key)
        except XkitError as exc:
            return {"error": {"code": exc.code}}

    return environment.with_runtime(ask)


def _code(response: httpx.Response) -> dict[str, Any]:
    return {"error": {"code": response.json()["error"]["code"]}}


def _write(environment: XkitEnvironment, statement: Any) -> None:
    async def run(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            await session.execute(statement)
            await session.commit()

    environment.with_runtime(run)


def _last_used(environment: XkitEnvironment, platform: PlatformCredentials) -> dt.datetime | None:
    async def read(runtime: Runtime) -> dt.datetime | None:
        async with runtime.sessions() as session:
            keys = await api_keys.list_api_keys(session, platform.platform_id)
            return keys[0].last_used_at

    return environment.with_runtime(read)


def _grant_last_used(environment: XkitEnvironment, authorization_id: str) -> dt.datetime | None:
    async def read(runtime: Runtime) -> dt.datetime | None:
        async with runtime.sessions() as session:
            found = await session.get(Authorization, authorization_id)
            return found.last_used_at if found else None

    return environment.with_runtime(read)


def test_the_common_case_is_answered_exactly_as_the_route_answers_it(
    api: httpx.Client,
    connected: dict[str, str],
    platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
) -> None:
    first = api.get(TOKEN_PATH)  # refreshes the 200-second token and notes both uses
    assert first.status_code == 200, first.text
    answered = _direct(xkit_environment, platform)
    assert answered == api.get(TOKEN_PATH).json() == first.json()
    assert answered["authorization"]["access_token"]
    bearer = _direct(xkit_environment, platform, publishable_key=platform.publishable_key)
    assert bearer == answered  # Basic (publishable:secret) and Bearer alike


def test_token_responses_are_never_cached(
    api: httpx.Client, connected: dict[str, str], platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
) -> None:
    refreshing = api.get(TOKEN_PATH)  # it refreshes the 200-second token
    assert "error" not in _direct(xkit_environment, platform)
    fresh = api.get(TOKEN_PATH)  # the common case
    connection_id = refreshing.json()["connection"]["id"]
    by_id = api.get(f"/api/platform/connections/{connection_id}")
    for response in (refreshing, fresh, by_id):
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"] == "application/json"


def test_every_refusal_is_the_routes_error(
    api: httpx.Client,
    connected: dict[str, str],
    platform: PlatformCredentials,
    other_platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
    xkit_server: XkitServer,
) -> None:
    assert api.get(TOKEN_PATH).status_code == 200
    wrong_publishable = _direct(xkit_environment, platform,
                                publishable_key=other_platform.publishable_key)
    foreign_key = _direct(xkit_environment, platform, secret=other_platform.secret_key)
    not_a_key = _direct(xkit_environment, platform, secret="sk_live_123")
    unknown_key = _direct(xkit_environment, platform, secret=platform.secret_key + "x")
    unknown_context = _direct(xkit_environment, platform, external_id="nobody")
    unknown_connector = _direct(xkit_environment, platform, slug="gmail")

    url = f"{xkit_server.url}{TOKEN_PATH}"
    wrong_pair = httpx.get(url, auth=(other_platform.publishable_key, platform.secret_key))
    assert wrong_pair.json()["error"]["code"] == "invalid_api_key"
    assert wrong_publishable == _code(wrong_pair)
    assert not_a_key == unknown_key == _code(wrong_pair)
    foreign = httpx.get(url, auth=other_platform.basic_auth)
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "context_not_found"
    assert foreign_key == _code(foreign)
    no_context = api.get("/api/platform/contexts/nobody/connections/outlook-email")
    assert no_context.status_code == 404
    assert no_context.json()["error"]["code"] == "context_not_found"
    assert unknown_context == _code(no_context)
    no_connection = api.get("/api/platform/contexts/user-1/connections/gmail")
    assert no_connection.status_code == 404
    assert no_connection.json()["error"]["code"] == "connection_not_found"
    assert unknown_connector == _code(no_connection)

    _write(xkit_environment, update(ApiKey).where(ApiKey.platform_id == platform.platform_id)
           .values(revoked_at=utcnow()))
    revoked = api.get(TOKEN_PATH)
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "invalid_api_key"
    assert _direct(xkit_environment, platform) == _code(revoked)


def _wait_for_the_servers_writes(environment: XkitEnvironment, platform: PlatformCredentials,
                                 authorization_id: str) -> None:
    """The server writes the uses it noted a second later: wait for that write, so that it
    cannot land on top of the times a test sets."""
    deadline = time.monotonic() + 10
    while (_last_used(environment, platform) is None
           or _grant_last_used(environment, authorization_id) is None):
        assert time.monotonic() < deadline, "the server never wrote its uses"
        time.sleep(0.1)
    time.sleep(0.5)  # and any retry of that write that was already under way


def test_it_notes_uses_as_the_route_does(
    api: httpx.Client,
    connected: dict[str, str],
    platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
) -> None:
    """The worker refreshes ahead only the grants in use: a use the fetch skipped noting
    would let a busy connection's token lapse."""
    body = api.get(TOKEN_PATH).json()
    _wait_for_the_servers_writes(xkit_environment, platform, body["authorization"]["id"])
    an_hour_ago = utcnow() - dt.timedelta(hours=1)
    _write(xkit_environment, update(ApiKey).where(ApiKey.platform_id == platform.platform_id)
           .values(last_used_at=an_hour_ago))
    grant = Authorization.id == body["authorization"]["id"]
    _write(xkit_environment, update(Authorization).where(grant).values(last_used_at=an_hour_ago))

    assert _direct(xkit_environment, platform) == body
    key_used = _last_used(xkit_environment, platform)
    grant_used = _grant_last_used(xkit_environment, body["authorization"]["id"])
    assert key_used is not None and key_used > an_hour_ago + dt.timedelta(minutes=59)
    assert grant_used is not None and grant_used > an_hour_ago + dt.timedelta(minutes=59)

    assert _direct(xkit_environment, platform) == body  # noted: nothing to write this time
    assert _last_used(xkit_environment, platform) == key_used
    assert _grant_last_used(xkit_environment, body["authorization"]["id"]) == grant_used


def test_the_running_server_writes_uses_a_moment_later(
    api: httpx.Client,
    connected: dict[str, str],
    platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
) -> None:
    """The server notes uses in memory and writes them within a second or two, together."""
    body = api.get(TOKEN_PATH).json()
    an_hour_ago = utcnow() - dt.timedelta(hours=1)
    _write(xkit_environment, update(ApiKey).where(ApiKey.platform_id == platform.platform_id)
           .values(last_used_at=an_hour_ago))
    grant_id = body["authorization"]["id"]
    _write(xkit_environment, update(Authorization).where(Authorization.id == grant_id)
           .values(last_used_at=an_hour_ago))

    assert api.get(TOKEN_PATH).json() == body
    deadline = time.monotonic() + 10
    while True:
        key_used = _last_used(xkit_environment, platform)
        grant_used = _grant_last_used(xkit_environment, grant_id)
        if (key_used and key_used > an_hour_ago + dt.timedelta(minutes=59)
                and grant_used and grant_used > an_hour_ago + dt.timedelta(minutes=59)):
            break
        assert time.monotonic() < deadline, (key_used, grant_used)
        time.sleep(0.2)


def test_a_refresh_when_due_and_a_grant_in_error_are_the_routes_answers(
    api: httpx.Client,
    connected: dict[str, str],
    platform: PlatformCredentials,
    microsoft: MicrosoftEmulator,
    xkit_environment: XkitEnvironment,
) -> None:
    body = api.get(TOKEN_PATH).json()
    refreshes = microsoft.counters()["token_requests"]["refresh_token"]
    assert _direct(xkit_environment, platform) == body

    # The token expires within the guaranteed margin: it is refreshed, once.
    grant = Authorization.id == body["authorization"]["id"]
    _write(xkit_environment, update(Authorization).where(grant)
           .values(expires_at=utcnow() + dt.timedelta(seconds=60)))
    refreshed = api.get(TOKEN_PATH).json()
    assert refreshed["authorization"]["access_token"] != body["authorization"]["access_token"]
    assert microsoft.counters()["token_requests"]["refresh_token"] == refreshes + 1
    assert _direct(xkit_environment, platform) == api.get(TOKEN_PATH).json() == refreshed

    # A grant in error: reconnect_required, from the service as from the route.
    _write(xkit_environment, update(Authorization).where(grant).values(status="error"))
    in_error = api.get(TOKEN_PATH)
    assert in_error.status_code == 409
    assert _direct(xkit_environment, platform) == _code(in_error)


def test_query_strings_are_read_by_the_route(
    api: httpx.Client, connected: dict[str, str], microsoft: MicrosoftEmulator
) -> None:
    body = api.get(TOKEN_PATH).json()
    refreshes = microsoft.counters()["token_requests"]["refresh_token"]
    forced = api.get(TOKEN_PATH, params={"force_refresh": "true"})
    assert forced.status_code == 200
    assert forced.json()["authorization"]["access_token"] != body["authorization"]["access_token"]
    assert microsoft.counters()["token_requests"]["refresh_token"] == refreshes + 1
    malformed = api.get(TOKEN_PATH, params={"force_refresh": "maybe"})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "invalid_input"
    assert malformed.json()["error"]["details"]["field"] == "force_refresh"
    too_long = api.get(TOKEN_PATH, params={"subject": "a" * 321})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"]["field"] == "subject"
    by_id = f"/api/platform/connections/{body['connection']['id']}"
    assert api.get(by_id, params={"force_refresh": "off"}).json() == api.get(by_id).json()
    forced_by_id = api.get(by_id, params={"force_refresh": "1"})
    assert forced_by_id.status_code == 200
    assert microsoft.counters()["token_requests"]["refresh_token"] == refreshes + 2
