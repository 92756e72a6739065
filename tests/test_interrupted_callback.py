"""A server killed in the middle of an OAuth callback leaves no connection stuck forever: the
authorization ends in ``error`` (code ``interrupted``) with a message that says to try again."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import signal
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select, update

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.flow import follow_provider, new_end_user, outlook_connector
from tests.support.webhooks import start_worker
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.db.models import Authorization, WebhookEvent
from xkit.db.types import utcnow
from xkit.runtime import Runtime
from xkit.services.connect import flow as authorizations

AN_HOUR_AGO = dt.timedelta(hours=1)


def _age(environment: XkitEnvironment, authorization_id: str) -> None:
    """Move the authorization's last change an hour back: the dead callback is now old."""

    async def work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            await session.execute(update(Authorization).where(
                Authorization.id == authorization_id).values(updated_at=utcnow() - AN_HOUR_AGO))
            await session.commit()

    environment.with_runtime(work)


def _sweep(environment: XkitEnvironment) -> int:
    async def work(runtime: Runtime) -> int:
        async with runtime.sessions() as session:
            return await authorizations.end_interrupted_callbacks(session)

    return environment.with_runtime(work)


def _error_events(environment: XkitEnvironment, platform_id: str) -> list[str | None]:
    async def work(runtime: Runtime) -> list[str | None]:
        async with runtime.sessions() as session:
            events = (await session.scalars(select(WebhookEvent).where(
                WebhookEvent.platform_id == platform_id,
                WebhookEvent.event_type == "connection.error"))).all()
        return [(e.payload.get("error") or {}).get("code") for e in events]

    return environment.with_runtime(work)


def test_sigkill_during_the_callback_ends_in_a_retryable_error(
    api: httpx.Client,
    xkit_environment: XkitEnvironment,
    xkit_server: XkitServer,
    platform: PlatformCredentials,
    microsoft: MicrosoftEmulator,
    tmp_path: Path,
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    microsoft.add_user(mail="ada@contoso.test", auto_consent=True)
    user = new_end_user(xkit_server, platform)
    authorization_id, to_provider = user.start_popup("outlook-email")
    with microsoft.client() as provider:
        callback = provider.get(to_provider.headers["location"]).headers["location"]
    # A second replica behind the same public URL; the load balancer sends it the callback.
    replica = dataclasses.replace(xkit_environment, extra={
        **(xkit_environment.extra or {}), "XKIT_PUBLIC_URL": xkit_server.url})
    doomed = XkitServer(replica, tmp_path / "doomed.log")
    try:
        # The token endpoint holds the code exchange long enough to kill the server mid-way.
        microsoft.add_fault("token", "delay", seconds=30, count=1,
                            grant_type="authorization_code")
        to_doomed = callback.replace(xkit_server.url, doomed.url)
        threading.Thread(target=lambda: _quietly_get(to_doomed, to_provider.cookies),
                         daemon=True).start()
        _wait_for_token_request(microsoft)
        doomed.process.stop(signal.SIGKILL)
    finally:
        doomed.stop()

    pending = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert pending["status"] == "retrieving_tokens"  # still within the time a callback may take

    _age(xkit_environment, authorization_id)
    _sweep(xkit_environment)  # (the running server's worker sweeps too, and may be first)
    ended = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert (ended["status"], ended["error_code"]) == ("error", "interrupted")
    assert "try again" in ended["error_message"]
    assert _error_events(xkit_environment, platform.platform_id) == ["interrupted"]
    assert _sweep(xkit_environment) == 0

    microsoft.clear_faults()
    _, again = user.start_popup("outlook-email")
    assert follow_provider(again, microsoft).status_code == 200
    listed = user.api("GET", "/connections").json()["connections"]
    assert [c["status"] for c in listed] == ["connected"]


def test_a_poll_settles_an_interrupted_callback_without_the_sweep(
    api: httpx.Client,
    xkit_environment: XkitEnvironment,
    xkit_server: XkitServer,
    platform: PlatformCredentials,
    microsoft: MicrosoftEmulator,
) -> None:
    outlook_connector(api, xkit_server, platform, microsoft)
    user = new_end_user(xkit_server, platform)
    authorization_id, _ = user.start_popup("outlook-email")

    async def die_mid_callback(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            await session.execute(update(Authorization).where(
                Authorization.id == authorization_id).values(
                status="retrieving_tokens", state_hash=None,
                updated_at=utcnow() - AN_HOUR_AGO))
            await session.commit()

    xkit_environment.with_runtime(die_mid_callback)
    polled = user.api("GET", f"/authorizations/{authorization_id}").json()
    assert (polled["status"], polled["error_code"]) == ("error", "interrupted")
    assert _sweep(xkit_environment) == 0


def _quietly_get(url: str, cookies: httpx.Cookies) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed under this request
        httpx.get(url, cookies=cookies, timeout=60)


def _wait_for_token_request(microsoft: MicrosoftEmulator) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(r["path"].endswith("/oauth2/v2.0/token") for r in microsoft.requests()):
            return
        time.sleep(0.1)
    raise AssertionError("xkit never called the token endpoint")


def test_the_worker_ends_interrupted_callbacks_by_itself(
    api: httpx.Client,
    xkit_environment: XkitEnvironment,
    xkit_server: XkitServer,
    platform: PlatformCredentials,
    microsoft: MicrosoftEmulator,
    tmp_path: Path,
) -> None:
    """Nobody polls (the popup is gone too): the worker's housekeeping settles it."""
    outlook_connector(api, xkit_server, platform, microsoft)
    authorization_id, _ = new_end_user(xkit_server, platform).start_popup("outlook-email")

    async def interrupt(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            await session.execute(update(Authorization).where(
                Authorization.id == authorization_id).values(
                    status="retrieving_tokens", updated_at=utcnow() - AN_HOUR_AGO))
            await session.commit()

    async def status(runtime: Runtime) -> str:
        async with runtime.sessions() as session:
            found = await session.get(Authorization, authorization_id)
            return f"{found.status}/{found.error_code}" if found else "gone"

    xkit_environment.with_runtime(interrupt)
    worker = start_worker(xkit_environment, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 30
        while xkit_environment.with_runtime(status) != "error/interrupted":
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.5)
    finally:
        worker.stop()
    assert _error_events(xkit_environment, platform.platform_id) == ["interrupted"]
