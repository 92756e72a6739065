"""A database error means one thing wherever it surfaces: an outage is a 503 to retry, a value
the database cannot hold is the caller's 400, a constraint lost to a race is a 409 — never a
500 (xkit.db.errors decides, for the API and the dashboard alike)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from starlette.requests import Request
from starlette.responses import Response

from tests.support.flow import new_end_user
from tests.support.xkit import PlatformCredentials, XkitServer
from xkit.db.errors import DatabaseProblem, classify
from xkit.http.errors import install_error_handlers
from xkit.http.routes import PageRoute


class _DriverError(Exception):
    """What asyncpg's and psycopg's exceptions carry: the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.database_independent
@pytest.mark.parametrize(
    ("error", "meaning"),
    [
        (DBAPIError("SELECT", {}, _DriverError("22021")), DatabaseProblem.INVALID_DATA),  # NUL
        (DBAPIError("INSERT", {}, _DriverError("22001")), DatabaseProblem.INVALID_DATA),
        (IntegrityError("INSERT", {}, _DriverError("23505")), DatabaseProblem.CONFLICT),
        (DBAPIError("SELECT", {}, _DriverError("57P01")), DatabaseProblem.OUTAGE),  # shutdown
        (DBAPIError("SELECT", {}, _DriverError("53300")), DatabaseProblem.OUTAGE),  # too many
        (DBAPIError("UPDATE", {}, _DriverError("40P01")), DatabaseProblem.OUTAGE),  # deadlock
        (DBAPIError(None, None, _DriverError("3D000")), DatabaseProblem.OUTAGE),  # db gone
        (DBAPIError(None, None, _DriverError("28P01")), DatabaseProblem.OUTAGE),  # password
        (DBAPIError(None, None, _DriverError("XX000")), DatabaseProblem.OUTAGE),  # connecting
        (ProgrammingError("SELECT", {}, _DriverError("42P01")), None),  # a bug: stays a 500
        (IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")),
         DatabaseProblem.CONFLICT),
        (OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")),
         DatabaseProblem.OUTAGE),
        (ProgrammingError("SELECT", {}, sqlite3.ProgrammingError("no such column")), None),
        (ConnectionRefusedError(), DatabaseProblem.OUTAGE),
        (ValueError("not a database error"), None),
    ],
)
def test_each_database_error_has_one_meaning(error: Exception,
                                            meaning: DatabaseProblem | None) -> None:
    assert classify(error) == meaning


def test_racing_for_one_client_chosen_connection_id_is_a_conflict_never_a_500(
    api: httpx.Client, platform: PlatformCredentials, xkit_server: XkitServer
) -> None:
    api.post("/api/platform/connectors", json={
        "provider": "outlook-email", "client_id": "app", "client_secret": "secret",
        "multiple_connections": True}).raise_for_status()
    end_user = new_end_user(xkit_server, platform)
    chosen = str(uuid.uuid4())
    start = threading.Barrier(6)

    def create(_: int) -> httpx.Response:
        start.wait()
        return end_user.api("POST", "/connections",
                            json={"connector": "outlook-email", "id": chosen})

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(create, range(6)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [
        r.text for r in responses
    ]
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["error"]["code"] in ("id_taken", "conflict")
    assert [c["id"] for c in end_user.api("GET", "/connections").json()["connections"]] == [
        chosen
    ]


@pytest.mark.database_independent
async def test_a_constraint_error_escaping_a_handler_is_a_409_json_for_apis_and_a_page(
) -> None:
    """The safety net for a race nobody anticipated (the known ones are handled where they
    happen): the API's error handlers, on a bare app whose routes (an API's, a page's) fail
    that way."""
    app = FastAPI()
    install_error_handlers(app)

    async def lost_a_race() -> None:
        raise IntegrityError("INSERT INTO x", {}, sqlite3.IntegrityError("UNIQUE failed: x.id"))

    async def lost_a_race_on_a_page(_request: Request) -> Response:
        return await lost_a_race()  # type: ignore[func-returns-value]

    app.add_api_route("/api/platform/things", lost_a_race, methods=["POST"])
    app.router.routes.append(PageRoute("/p/acme/things", lost_a_race_on_a_page, methods=["POST"]))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://xkit.test") as client:
        api = await client.post("/api/platform/things")
        page = await client.post("/p/acme/things")
    assert api.status_code == 409 and api.json()["error"]["code"] == "conflict"
    assert "INSERT" not in api.text
    assert page.status_code == 409 and page.headers["content-type"].startswith("text/html")
    assert "conflicts with another one made at the same time" in page.text
