"""The token fetch has one implementation, the route's, and it reads with one statement.

Counted with SQLAlchemy's ``before_cursor_execute`` on xkit's own app and engine (in-process,
over ASGI), and shown on a real ``xkit serve``: its access log names the route that answered.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.database import backend
from tests.support.statements import answered_counting
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.db import driver
from xkit.services.tokens import fetch as token_fetch

TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"
ROUTE = "/api/platform/contexts/{external_id}/connections/{connector_slug}"


def test_a_fresh_token_fetch_runs_one_statement(
    api: httpx.Client, connected: dict[str, str], platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
) -> None:
    first = api.get(TOKEN_PATH)  # refreshes the 200-second token: now it is fresh
    assert first.status_code == 200, first.text
    connection_id = first.json()["connection"]["id"]
    by_slug, by_id, no_context = answered_counting(xkit_environment, platform, [
        TOKEN_PATH, f"/api/platform/connections/{connection_id}",
        "/api/platform/contexts/nobody/connections/outlook-email"])
    for fetched in (by_slug, by_id):
        assert fetched.status == 200
        assert fetched.body["authorization"]["access_token"] == first.json()["authorization"][
            "access_token"]
        assert len(fetched.statements) == 1, fetched.statements
    assert (no_context.status, no_context.body["error"]["code"]) == (404, "context_not_found")
    assert len(no_context.statements) == 1, no_context.statements


@pytest.mark.skipif(backend() != "postgresql", reason="asyncpg's own fetch")
def test_on_postgresql_the_fresh_fetch_runs_on_the_driver_with_the_same_answers(
    api: httpx.Client, connected: dict[str, str], platform: PlatformCredentials,
    xkit_environment: XkitEnvironment, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nothing listening to SQLAlchemy's statements, the fetch's one statement runs on
    asyncpg itself (xkit.db.driver): the same answers, 404s included, as SQLAlchemy's run."""
    first = api.get(TOKEN_PATH)  # refreshes the 200-second token: now it is fresh
    assert first.status_code == 200, first.text
    paths = [TOKEN_PATH, f"/api/platform/connections/{first.json()['connection']['id']}",
             "/api/platform/contexts/nobody/connections/outlook-email",
             "/api/platform/contexts/user-1/connections/no-such-connector",
             "/api/platform/connections/no-such-id"]
    on_driver: list[str] = []

    async def counted(engine: Any, statement: Any, params: Any) -> Any:
        on_driver.append(statement.sql)
        return await driver.fetch_all(engine, statement, params)

    monkeypatch.setattr(token_fetch, "fetch_all", counted)
    by_driver = answered_counting(xkit_environment, platform, paths, count=False)
    assert len(on_driver) == len(paths)
    by_sqlalchemy = answered_counting(xkit_environment, platform, paths)
    assert len(on_driver) == len(paths)  # a statement listener: SQLAlchemy runs it, traced
    assert [(a.status, a.body) for a in by_driver] == [
        (a.status, a.body) for a in by_sqlalchemy]
    assert [a.status for a in by_driver] == [200, 200, 404, 404, 404]
    assert by_driver[0].body["authorization"]["access_token"] == first.json()[
        "authorization"]["access_token"]


def test_a_real_request_is_answered_by_the_route(
    api: httpx.Client, connected: dict[str, str], platform: PlatformCredentials,
    xkit_environment: XkitEnvironment, tmp_path: Path,
) -> None:
    """A second ``xkit serve`` on the same database, logging JSON: the access log line of a
    fresh fetch names the route's template, so the route itself took the request."""
    assert api.get(TOKEN_PATH).status_code == 200  # refreshed: the next fetch is the fresh case
    environment = dataclasses.replace(
        xkit_environment, extra={**(xkit_environment.extra or {}), "XKIT_LOG_FORMAT": "json"})
    server = XkitServer(environment, tmp_path / "serve.log")
    try:
        fetched = httpx.get(f"{server.url}{TOKEN_PATH}", auth=platform.basic_auth)
        assert fetched.status_code == 200 and fetched.json()["authorization"]["access_token"]
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    answered = [line for line in lines if line.get("path") == TOKEN_PATH]
    assert [(line["route"], line["status"]) for line in answered] == [(ROUTE, 200)]


def test_a_contexts_connections_are_listed_in_two_statements(
    api: httpx.Client, connected: dict[str, str], platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
) -> None:
    """The key, then the context with its connections, their connectors and grants; a context
    that does not exist is a 404 from the same two."""
    listed, missing = answered_counting(xkit_environment, platform, [
        "/api/platform/contexts/user-1/connections",
        "/api/platform/contexts/nobody/connections"])
    assert listed.status == 200
    assert [(c["connector"]["slug"], c["connection"]["status"])
            for c in listed.body["connections"]] == [("outlook-email", "connected")]
    assert "access_token" not in json.dumps(listed.body)
    assert len(listed.statements) == 2, listed.statements
    assert (missing.status, missing.body["error"]["code"]) == (404, "context_not_found")
    assert len(missing.statements) == 2, missing.statements
