"""When the database goes away, requests fail cleanly with 503 and recover by themselves."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from bench.seed import seed
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


@pytest.mark.skipif(backend() != "postgresql", reason="needs a database server to take away")
def test_a_database_restart_under_load_is_503s_then_recovery(
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    """As a restart looks from xkit: every connection dropped, new ones refused for a while,
    then accepted again — while requests keep coming: reads, writes and token fetches (which
    have a pool of their own)."""
    fetched = asyncio.run(seed(fresh_environment.database_url, fresh_environment.data_dir,
                               connections=8,
                               encryption_keys=fresh_environment.encryption_keys))
    server = XkitServer(fresh_environment, tmp_path / "serve.log")
    platform = create_platform(fresh_environment, "acme")
    name = fresh_environment.database_url.rsplit("/", 1)[1]
    statuses: list[tuple[str, int, str]] = []
    fetches: list[tuple[str, int]] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with platform.client(server) as api, httpx.Client(
                base_url=server.url, timeout=30,
                headers={"Authorization": f"Bearer {fetched.secret_key}"}) as backend:
            for number in itertools.count():
                if stop.is_set():
                    return
                if number % 3 == 1:
                    response = api.get("/api/platform/connectors")
                elif number % 3 == 2:
                    response = backend.get(fetched.token_path(worker))
                    fetches.append((phase[0], response.status_code))
                else:
                    response = api.post("/api/platform/contexts", json={
                        "context": {"external_id": f"user-{worker}-{number}"}})
                code = response.json().get("error", {}).get("code", "") \
                    if response.headers.get("content-type", "").startswith("application/json") \
                    else "not json"
                statuses.append((phase[0], response.status_code, code))

    phase = ["before"]
    workers = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    try:
        for thread in workers:
            thread.start()
        time.sleep(1)
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            phase[0] = "down"
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (name,))
            time.sleep(3)
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            phase[0] = "recovering"
        time.sleep(3)
        phase[0] = "after"
        time.sleep(1)
    finally:
        stop.set()
        for thread in workers:
            thread.join(timeout=60)
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        server.stop()

    assert {s for _, s, _ in statuses} <= {200, 201, 503}, sorted(set(statuses))
    assert {code for _, s, code in statuses if s == 503} == {"database_unavailable"}
    assert any(p == "down" and s == 503 for p, s, _ in statuses), "the outage was noticed"
    after = [s for p, s, _ in statuses if p == "after"]
    assert after and set(after) <= {200, 201}, "recovered without restarting xkit"
    fetches_after = [s for p, s in fetches if p == "after"]
    assert fetches_after and set(fetches_after) == {200}, "token fetches recovered too"
    assert any(p == "down" and s == 503 for p, s in fetches), "token fetches saw the outage"
    assert "Traceback" not in server.output()
