"""The refresh lease when its holder dies, lives long, or is cancelled; and the refresh that an
interrupted one cost, named as such.

The Microsoft emulator rotates strictly here: a refresh token sent twice ends the grant, so a
second refresh of one expiry shows up as a broken connection. A dead holder is what a replica
leaves in the row when it is killed: its lease (and, if it had sent the refresh token, the
sent mark) with nobody renewing it. The end-to-end kill with real processes is in
test_replica_failover.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.flow import follow_provider, new_end_user, outlook_connector
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.db.models import Authorization, WebhookEvent
from xkit.db.types import utcnow
from xkit.runtime import Runtime
from xkit.services.tokens import refresh as tokens

TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"


@pytest.fixture
def authorization_id(api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer,
                     microsoft: MicrosoftEmulator) -> str:
    """user-1 connected to Outlook; its access token needs a refresh before it is handed out
    (200 s left, under xkit's 300 s margin), and the refreshed one lasts an hour."""
    outlook_connector(api, xkit_server, platform, microsoft)
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    microsoft.configure(access_token_lifetime=200, strict_rotation=True)
    _, to_provider = new_end_user(xkit_server, platform).start_popup("outlook-email")
    assert follow_provider(to_provider, microsoft).status_code == 200
    microsoft.configure(access_token_lifetime=3600)
    listed = api.get("/api/platform/contexts/user-1/connections").json()["connections"]
    return str(listed[0]["connection"]["authorization"]["id"])


def _refreshes(microsoft: MicrosoftEmulator) -> int:
    return int(microsoft.counters()["token_requests"].get("refresh_token", 0))


def _row(environment: XkitEnvironment, authorization_id: str) -> Authorization:
    async def _work(runtime: Runtime) -> Authorization:
        async with runtime.sessions() as session:
            found = await session.get(Authorization, authorization_id)
            assert found is not None
            session.expunge(found)
            return found

    return environment.with_runtime(_work)


def _set(environment: XkitEnvironment, authorization_id: str, **values: Any) -> None:
    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            await session.execute(update(Authorization)
                                  .where(Authorization.id == authorization_id).values(**values))
            await session.commit()

    environment.with_runtime(_work)


def _error_events(environment: XkitEnvironment, platform: PlatformCredentials) -> list[str]:
    """The error codes of the platform's connection.error events (its webhook outbox)."""
    async def _work(runtime: Runtime) -> list[str]:
        async with runtime.sessions() as session:
            payloads = await session.scalars(select(WebhookEvent.payload).where(
                WebhookEvent.platform_id == platform.platform_id,
                WebhookEvent.event_type == "connection.error"))
            return [p["error"]["code"] for p in payloads]

    return environment.with_runtime(_work)


def _die_holding_the_lease(environment: XkitEnvironment, authorization_id: str, *,
                           sent: bool) -> None:
    """What a replica killed mid-refresh leaves: its last heartbeat's lease, and with ``sent``
    the mark of a refresh token on its way."""
    now = utcnow()
    _set(environment, authorization_id, refresh_lease_owner="killed-replica",
         refresh_lease_until=now + dt.timedelta(seconds=tokens.LEASE_SECONDS),
         refresh_sent_at=now if sent else None)


def test_a_dead_holders_lease_lapses_within_seconds_and_the_next_request_refreshes(
    api: httpx.Client, authorization_id: str, xkit_environment: XkitEnvironment,
    microsoft: MicrosoftEmulator,
) -> None:
    _die_holding_the_lease(xkit_environment, authorization_id, sent=False)
    before = _refreshes(microsoft)
    started = time.monotonic()
    response = api.get(TOKEN_PATH)
    waited = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert waited < tokens.LEASE_SECONDS + 1.5, waited  # not the 35 s of the old lease
    assert _refreshes(microsoft) == before + 1
    row = _row(xkit_environment, authorization_id)
    assert (row.refresh_lease_owner, row.refresh_sent_at) == (None, None)


def test_a_refresh_refused_after_an_interrupted_one_is_named_refresh_interrupted(
    api: httpx.Client, authorization_id: str, xkit_environment: XkitEnvironment,
    platform: PlatformCredentials,
) -> None:
    # The provider rotates the refresh token, and the replica dies before storing the answer:
    # the database still holds the token the provider has just used up.
    used_up = _row(xkit_environment, authorization_id).refresh_token
    assert api.get(TOKEN_PATH).status_code == 200
    _set(xkit_environment, authorization_id, refresh_token=used_up, expires_at=utcnow())
    _die_holding_the_lease(xkit_environment, authorization_id, sent=True)

    started = time.monotonic()
    response = api.get(TOKEN_PATH)
    waited = time.monotonic() - started

    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["details"]["error_code"] == "refresh_interrupted"
    assert "cut off before its answer was saved" in error["message"]
    assert "Traceback" not in response.text and "AADSTS" not in error["message"]
    assert waited < tokens.LEASE_SECONDS + 5 + 1.5, waited  # lease + provider timeout
    listed = api.get("/api/platform/contexts/user-1/connections").json()["connections"]
    assert listed[0]["connection"]["status"] == "error"
    assert _row(xkit_environment, authorization_id).error_code == "refresh_interrupted"
    assert _error_events(xkit_environment, platform) == ["refresh_interrupted"]


def test_a_refused_refresh_without_an_interrupted_one_keeps_the_providers_code(
    api: httpx.Client, authorization_id: str, xkit_environment: XkitEnvironment,
) -> None:
    """A user who revoked access (or an admin) is not an interrupted refresh."""
    used_up = _row(xkit_environment, authorization_id).refresh_token
    assert api.get(TOKEN_PATH).status_code == 200
    _set(xkit_environment, authorization_id, refresh_token=used_up, expires_at=utcnow())
    response = api.get(TOKEN_PATH)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["details"]["error_code"] not in {"refresh_interrupted", None}


def test_a_live_holder_keeps_its_lease_while_the_provider_is_slow(
    authorization_id: str, xkit_environment: XkitEnvironment, microsoft: MicrosoftEmulator,
) -> None:
    """The provider takes three leases' time to answer; the heartbeat keeps the lease, so
    the second request waits for the first one's token instead of refreshing again (which
    strict rotation would punish by ending the grant)."""
    microsoft.add_fault("token", "delay", seconds=3, count=1, grant_type="refresh_token")
    before = _refreshes(microsoft)

    async def _work(runtime: Runtime) -> tuple[str | None, str | None]:
        deps = dataclasses.replace(runtime.token_deps, lease=dt.timedelta(seconds=1))
        first = asyncio.create_task(tokens.fresh_authorization(deps, authorization_id))
        await asyncio.sleep(0.3)
        second = await tokens.fresh_authorization(deps, authorization_id)
        return (await first).access_token, second.access_token

    first, second = xkit_environment.with_runtime(_work)
    assert first == second
    assert _refreshes(microsoft) == before + 1


def test_a_refresh_runs_to_its_end_when_its_request_is_cancelled(
    authorization_id: str, xkit_environment: XkitEnvironment, microsoft: MicrosoftEmulator,
) -> None:
    """A client that goes away, or a shutdown whose grace ran out, must not cut a refresh off
    between the provider's rotation and the commit of its answer."""
    microsoft.add_fault("token", "delay", seconds=1.5, count=1, grant_type="refresh_token")
    before = _row(xkit_environment, authorization_id).last_refreshed_at

    async def _work(runtime: Runtime) -> int:
        request = asyncio.create_task(
            tokens.fresh_authorization(runtime.token_deps, authorization_id))
        await asyncio.sleep(0.5)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        return await runtime.token_deps.in_flight.drain(10)

    assert xkit_environment.with_runtime(_work) == 0
    row = _row(xkit_environment, authorization_id)
    assert row.last_refreshed_at is not None and row.last_refreshed_at != before
    assert (row.refresh_lease_owner, row.refresh_sent_at) == (None, None)


def test_the_lease_is_kept_through_the_pause_before_a_retry(
    authorization_id: str, xkit_environment: XkitEnvironment, microsoft: MicrosoftEmulator,
) -> None:
    """A 429 asking for 2 s: the holder pauses, still holding its (1 s) lease, then retries;
    a request arriving meanwhile waits for that retry's token instead of taking over."""
    microsoft.add_fault("token", "status", status=429, retry_after=2, count=1,
                        grant_type="refresh_token")
    before = _refreshes(microsoft)

    async def _work(runtime: Runtime) -> tuple[str | None, str | None]:
        deps = dataclasses.replace(runtime.token_deps, lease=dt.timedelta(seconds=1))
        first = asyncio.create_task(tokens.fresh_authorization(deps, authorization_id))
        await asyncio.sleep(1.5)  # inside the pause, past a lease nobody renewed
        second = await tokens.fresh_authorization(deps, authorization_id)
        return (await first).access_token, second.access_token

    first, second = xkit_environment.with_runtime(_work)
    assert first == second
    assert _refreshes(microsoft) == before + 2  # the throttled attempt and its retry
