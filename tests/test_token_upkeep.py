"""The worker keeps tokens fresh on its own: refreshing ahead of expiry the connections in
use, and exercising refresh tokens before Microsoft lets them lapse (90 idle days).

These tests run an ``xkit serve`` of their own with token upkeep on, scanning twice a second,
against the Microsoft emulator; the shared server has upkeep off so that other tests can
count the refreshes they cause."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.emulators.microsoft.fixture import MicrosoftEmulator
from tests.support.database import temporary_database
from tests.support.flow import new_end_user, outlook_connector, sign_in_at_provider
from tests.support.tls import TestCertificates
from tests.support.xkit import (
    PlatformCredentials,
    XkitEnvironment,
    XkitServer,
    create_platform,
    installation_settings,
)
from xkit.db.models import Authorization, Connection, Context
from xkit.db.types import utcnow
from xkit.runtime import Runtime

PASSWORD = "correct horse battery"
DAY = 86400


@pytest.fixture(scope="module")
def upkeep_environment(tmp_path_factory: pytest.TempPathFactory,
                       test_certificates: TestCertificates) -> Iterator[XkitEnvironment]:
    data_dir = tmp_path_factory.mktemp("upkeep")
    with temporary_database(data_dir) as url:
        environment = XkitEnvironment.new(data_dir, url)
        environment.extra = {
            **installation_settings(test_certificates),
            "XKIT_TOKEN_UPKEEP": "true",
            "XKIT_TOKEN_UPKEEP_INTERVAL_SECONDS": "0.5",
            "XKIT_REFRESH_AHEAD_SECONDS": "600",
        }
        yield environment


@pytest.fixture(scope="module")
def upkeep_server(upkeep_environment: XkitEnvironment,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[XkitServer]:
    server = XkitServer(upkeep_environment, tmp_path_factory.mktemp("logs") / "upkeep.log")
    yield server
    server.stop()


@pytest.fixture
def upkeep_platform(upkeep_environment: XkitEnvironment, upkeep_server: XkitServer,
                    microsoft: MicrosoftEmulator) -> Iterator[tuple[PlatformCredentials,
                                                                     httpx.Client]]:
    platform = create_platform(upkeep_environment, f"upkeep-{secrets.token_hex(4)}")
    with platform.client(upkeep_server) as api:
        outlook_connector(api, upkeep_server, platform, microsoft)
        yield platform, api


def connect(server: XkitServer, platform: PlatformCredentials, microsoft: MicrosoftEmulator,
            external_id: str) -> None:
    mail = f"{external_id}@contoso.test"
    microsoft.add_user(mail=mail, password=PASSWORD)
    _, to_provider = new_end_user(server, platform, external_id).start_popup("outlook-email")
    assert sign_in_at_provider(to_provider, microsoft, login=mail,
                               password=PASSWORD).status_code == 200


def refreshes(microsoft: MicrosoftEmulator) -> int:
    return int(microsoft.counters()["token_requests"].get("refresh_token", 0))


def authorization_of(environment: XkitEnvironment, platform: PlatformCredentials,
                     external_id: str, **changes: Any) -> Authorization:
    """The context's authorization, after applying ``changes`` to it (to age it)."""

    async def _work(runtime: Runtime) -> Authorization:
        async with runtime.sessions() as session:
            found = (await session.scalars(
                select(Authorization)
                .join(Connection, Connection.id == Authorization.connection_id)
                .join(Context, Context.id == Connection.context_id)
                .where(Context.platform_id == platform.platform_id,
                       Context.external_id == external_id))).one()
            if changes:
                await session.execute(update(Authorization)
                                      .where(Authorization.id == found.id).values(**changes))
                await session.commit()
                await session.refresh(found)
            return found

    return environment.with_runtime(_work)


def wait_for(condition: Any, *, timeout: float = 15.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        time.sleep(0.1)


def test_tokens_nearing_expiry_are_refreshed_without_any_api_call(
        upkeep_platform: tuple[PlatformCredentials, httpx.Client], upkeep_server: XkitServer,
        upkeep_environment: XkitEnvironment, microsoft: MicrosoftEmulator) -> None:
    platform, api = upkeep_platform
    microsoft.configure(access_token_lifetime=200)  # expires inside the refresh-ahead window
    connect(upkeep_server, platform, microsoft, "user-1")
    microsoft.configure(access_token_lifetime=3600)

    wait_for(lambda: refreshes(microsoft) == 1, what="a refresh by the worker")
    refreshed = authorization_of(upkeep_environment, platform, "user-1")
    assert refreshed.expires_at is not None  # the first token lived 200 s; this one an hour
    assert refreshed.expires_at > utcnow() + dt.timedelta(minutes=55)

    body = api.get("/api/platform/contexts/user-1/connections/outlook-email").json()
    assert refreshes(microsoft) == 1, "the backend's call found a fresh token waiting"
    with microsoft.client() as graph:
        me = graph.get(microsoft.graph_url("/me"), headers={
            "Authorization": f"Bearer {body['authorization']['access_token']}"})
    assert me.status_code == 200


def test_only_connections_in_use_are_refreshed_ahead(
        upkeep_platform: tuple[PlatformCredentials, httpx.Client], upkeep_server: XkitServer,
        upkeep_environment: XkitEnvironment, microsoft: MicrosoftEmulator) -> None:
    platform, api = upkeep_platform
    connect(upkeep_server, platform, microsoft, "user-1")
    # Connected two days ago and never used since; its token expires in seven minutes.
    authorization_of(upkeep_environment, platform, "user-1",
                     created_at=utcnow() - dt.timedelta(days=2), last_used_at=None,
                     expires_at=utcnow() + dt.timedelta(minutes=7))
    time.sleep(2.0)  # four upkeep passes
    assert refreshes(microsoft) == 0

    used = api.get("/api/platform/contexts/user-1/connections/outlook-email")
    assert used.status_code == 200
    # seven minutes is valid enough for the API, which hands out the token it has
    handed_out = dt.datetime.fromisoformat(used.json()["authorization"]["expires_at"])
    assert handed_out < utcnow() + dt.timedelta(minutes=8)
    # Used now: the worker refreshes it ahead of expiry.
    wait_for(lambda: refreshes(microsoft) == 1, what="a refresh ahead of a used token")


def test_an_idle_refresh_token_is_kept_alive_before_it_lapses(
        upkeep_platform: tuple[PlatformCredentials, httpx.Client], upkeep_server: XkitServer,
        upkeep_environment: XkitEnvironment, microsoft: MicrosoftEmulator) -> None:
    platform, api = upkeep_platform
    connect(upkeep_server, platform, microsoft, "idle")
    connect(upkeep_server, platform, microsoft, "never-refreshed")
    connect(upkeep_server, platform, microsoft, "control")
    # 70 days pass: "idle" was last refreshed 70 days ago, "never-refreshed" was connected 70
    # days ago and has no refresh time at all. "control" looks freshly refreshed to xkit (so
    # the worker leaves it alone), but at Microsoft its refresh token is just as old.
    microsoft.advance_clock(70 * DAY)
    seventy_days_ago = utcnow() - dt.timedelta(days=70)
    before = authorization_of(upkeep_environment, platform, "idle",
                              last_refreshed_at=seventy_days_ago)
    never_before = authorization_of(upkeep_environment, platform, "never-refreshed",
                                    last_refreshed_at=None, created_at=seventy_days_ago)
    wait_for(lambda: refreshes(microsoft) == 2, what="the keep-alive refreshes")
    for external_id, earlier in (("idle", before), ("never-refreshed", never_before)):
        kept = authorization_of(upkeep_environment, platform, external_id)
        assert kept.refresh_token != earlier.refresh_token
        assert kept.last_refreshed_at > utcnow() - dt.timedelta(minutes=1)  # type: ignore[operator]
    time.sleep(1.0)
    assert refreshes(microsoft) == 2, "the control connection was not touched"

    # 30 more days: Microsoft's 90 idle days are over for the original refresh tokens.
    microsoft.advance_clock(30 * DAY)
    path = "/api/platform/contexts/{}/connections/outlook-email"
    alive = api.get(path.format("idle"), params={"force_refresh": "true"})
    assert alive.status_code == 200, alive.text
    lapsed = api.get(path.format("control"), params={"force_refresh": "true"})
    assert lapsed.status_code == 409, lapsed.text
    assert lapsed.json()["error"]["details"]["error_code"] == "AADSTS700082"
