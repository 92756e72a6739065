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
from sqlalchemy import event

from tests.support.database import backend
from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.app import create_app
from xkit.db import driver
from xkit.runtime import Runtime
from xkit.services.tokens import fetch as token_fetch

TOKEN_PATH = "/api/platform/contexts/user-1/connections/outlook-email"
ROUTE = "/api/platform/contexts/{external_id}/connections/{connector_slug}"


def _fetch_counting(environment: XkitEnvironment, platform: PlatformCredentials,
                    paths: list[str], *, count: bool = True,
                    ) -> list[tuple[int, dict[str, Any], list[str]]]:
    """Each path fetched through xkit's app, with the SQL statements each one ran (none
    counted, and none listened to, with ``count=False``)."""
    async def work(runtime: Runtime) -> list[tuple[int, dict[str, Any], list[str]]]:
        app = create_app(runtime=runtime)
        app.state.runtime = runtime  # what the lifespan does
        statements: list[str] = []

        def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        transport = httpx.ASGITransport(app=app)
        answers = []
        async with httpx.AsyncClient(transport=transport, base_url="http://xkit.test",
                                     auth=platform.basic_auth) as http:
            for path in paths:
                if not count:
                    response = await http.get(path)
                    answers.append((response.status_code, response.json(), []))
                    continue
                event.listen(runtime.engine.sync_engine, "before_cursor_execute", note)
                try:
                    response = await http.get(path)
                finally:
                    event.remove(runtime.engine.sync_engine, "before_cursor_execute", note)
                answers.append((response.status_code, response.json(), list(statements)))
                statements.clear()
        return answers

    return environment.with_runtime(work)


def test_a_fresh_token_fetch_runs_one_statement(
    api: httpx.Client, connected: dict[str, str], platform: PlatformCredentials,
    xkit_environment: XkitEnvironment,
) -> None:
    first = api.get(TOKEN_PATH)  # refreshes the 200-second token: now it is fresh
    assert first.status_code == 200, first.text
    connection_id = first.json()["connection"]["id"]
    by_slug, by_id, no_context = _fetch_counting(xkit_environment, platform, [
        TOKEN_PATH, f"/api/platform/connections/{connection_id}",
        "/api/platform/contexts/nobody/connections/outlook-email"])
    for status, body, statements in (by_slug, by_id):
        assert status == 200
        assert body["authorization"]["access_token"] == first.json()["authorization"][
            "access_token"]
        assert len(statements) == 1, statements
    status, body, statements = no_context
    assert (status, body["error"]["code"]) == (404, "context_not_found")
    assert len(statements) == 1, statements


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
    by_driver = _fetch_counting(xkit_environment, platform, paths, count=False)
    assert len(on_driver) == len(paths)
    by_sqlalchemy = _fetch_counting(xkit_environment, platform, paths)
    assert len(on_driver) == len(paths)  # a statement listener: SQLAlchemy runs it, traced
    assert [(status, body) for status, body, _ in by_driver] == [
        (status, body) for status, body, _ in by_sqlalchemy]
    assert [status for status, _, _ in by_driver] == [200, 200, 404, 404, 404]
    assert by_driver[0][1]["authorization"]["access_token"] == first.json()[
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
    listed, missing = _fetch_counting(xkit_environment, platform, [
        "/api/platform/contexts/user-1/connections",
        "/api/platform/contexts/nobody/connections"])
    status, body, statements = listed
    assert status == 200
    assert [(c["connector"]["slug"], c["connection"]["status"])
            for c in body["connections"]] == [("outlook-email", "connected")]
    assert "access_token" not in json.dumps(body)
    assert len(statements) == 2, statements
    status, body, statements = missing
    assert (status, body["error"]["code"]) == (404, "context_not_found")
    assert len(statements) == 2, statements
