"""When the database goes away, requests fail cleanly with 503 and recover by themselves."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.database import POSTGRES_ADMIN_URL, backend
from tests.support.xkit import XkitEnvironment, XkitServer, create_platform


@pytest.mark.skipif(backend() != "postgresql", reason="needs a database server to take away")
def test_database_outage_is_a_503_and_recovery_needs_no_restart(
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    server = XkitServer(fresh_environment, tmp_path / "serve.log")
    platform = create_platform(fresh_environment, "acme")
    name = fresh_environment.database_url.rsplit("/", 1)[1]
    try:
        with platform.client(server) as api:
            assert api.get("/api/platform/connectors").status_code == 200
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = %s", (name,))
                admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"')
            try:
                down = api.get("/api/platform/connectors")
                assert down.status_code == 503, down.text
                assert down.json()["error"]["code"] == "database_unavailable"
                assert httpx.get(f"{server.url}/readyz").status_code == 503
                assert httpx.get(f"{server.url}/healthz").status_code == 200
            finally:
                with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"')
            assert api.get("/api/platform/connectors").status_code == 200
    finally:
        server.stop()
    assert "Traceback" not in server.output()
