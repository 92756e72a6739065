"""Start-up with, without and with the wrong encryption keys; rotation of every stored secret."""

from __future__ import annotations

import asyncio
import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.database import backend, raw_dump
from tests.support.processes import ManagedProcess, free_port, wait_for_http
from tests.support.xkit import XkitEnvironment, create_platform
from xkit.crypto import EncryptionKey, key_id_of
from xkit.db.models import Connector, KeyringCanary
from xkit.runtime import Runtime, start_runtime
from xkit.services.configuration import connectors

SECRET = "known-plaintext-client-secret-4711"


def _add_connector(environment: XkitEnvironment, slug: str) -> None:
    async def _work(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            from xkit.services.configuration import platforms

            platform = await platforms.get_platform(session, slug)
            await connectors.create_connector(
                session,
                runtime.connector_services,
                platform,
                {"provider": "outlook-email", "client_id": "cid", "client_secret": SECRET},
                actor="test",
            )

    environment.with_runtime(_work)


def _stored_secret(environment: XkitEnvironment) -> str:
    async def _work(runtime: Runtime) -> str:
        async with runtime.sessions() as session:
            from sqlalchemy import select

            return str(await session.scalar(select(Connector.client_secret)))

    return environment.with_runtime(_work)


def test_first_start_without_keys_creates_a_private_key_file(
    fresh_environment: XkitEnvironment,
) -> None:
    result = fresh_environment.run_cli("platforms", "list", env={"XKIT_ENCRYPTION_KEYS": ""})
    assert result.returncode == 0, result.stderr
    key_file = fresh_environment.data_dir / "encryption.key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "created encryption key" in result.stderr
    again = fresh_environment.run_cli("platforms", "list", env={"XKIT_ENCRYPTION_KEYS": ""})
    assert again.returncode == 0 and "created encryption key" not in again.stderr


def test_missing_key_for_existing_data_is_a_clear_startup_error(
    fresh_environment: XkitEnvironment,
) -> None:
    create_platform(fresh_environment, "acme")
    _add_connector(fresh_environment, "acme")
    result = fresh_environment.run_cli("platforms", "list", env={"XKIT_ENCRYPTION_KEYS": ""})
    assert result.returncode == 2
    assert "no key is configured" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (fresh_environment.data_dir / "encryption.key").exists()


def test_wrong_key_is_a_clear_startup_error(fresh_environment: XkitEnvironment) -> None:
    create_platform(fresh_environment, "acme")
    original_id = fresh_environment.encryption_keys.split(":")[0]
    impostor = EncryptionKey(key_id=original_id, secret=EncryptionKey.generate().secret)
    other = EncryptionKey.generate()
    wrong = fresh_environment.run_cli(
        "platforms", "list", env={"XKIT_ENCRYPTION_KEYS": impostor.to_spec()}
    )
    missing = fresh_environment.run_cli(
        "platforms", "list", env={"XKIT_ENCRYPTION_KEYS": other.to_spec()}
    )
    assert wrong.returncode == missing.returncode == 2
    assert "not the key that encrypted" in wrong.stderr
    assert f"key(s) {original_id}, which are not loaded" in missing.stderr
    for result in (wrong, missing):
        assert "Traceback" not in result.stderr + result.stdout


def test_rotation_re_encrypts_everything_and_old_key_can_then_go(
    fresh_environment: XkitEnvironment,
) -> None:
    create_platform(fresh_environment, "acme")
    _add_connector(fresh_environment, "acme")
    old_spec = fresh_environment.encryption_keys
    old_id = old_spec.split(":")[0]
    assert key_id_of(_stored_secret(fresh_environment)) == old_id

    new_key = EncryptionKey.generate()
    fresh_environment.encryption_keys = f"{new_key.to_spec()},{old_spec}"
    result = fresh_environment.run_cli("keys", "rotate-encryption")
    assert result.returncode == 0, result.stderr
    assert (
        "connectors.client_secret" in result.stdout and "re-encrypted 1 value(s)" in result.stdout
    )
    assert f"no data uses key(s) {old_id}" in result.stdout
    assert key_id_of(_stored_secret(fresh_environment)) == new_key.key_id

    fresh_environment.encryption_keys = new_key.to_spec()

    async def _read(runtime: Runtime) -> str:
        async with runtime.sessions() as session:
            from sqlalchemy import select

            connector = await session.scalar(select(Connector))
            assert connector is not None
            return runtime.keyring.decrypt(
                connector.client_secret or "", aad=connectors.client_secret_aad(connector.id)
            )

    assert fresh_environment.with_runtime(_read) == SECRET
    again = fresh_environment.run_cli("keys", "rotate-encryption")
    assert "re-encrypted 0 value(s)" in again.stdout
    assert SECRET.encode() not in raw_dump(fresh_environment.database_url)


def test_a_secret_pasted_into_another_row_does_not_decrypt(
    fresh_environment: XkitEnvironment,
) -> None:
    create_platform(fresh_environment, "acme")
    _add_connector(fresh_environment, "acme")

    async def _swap(runtime: Runtime) -> None:
        from xkit.crypto import DecryptionError
        from xkit.services.configuration import platforms

        async with runtime.sessions() as session:
            platform = await platforms.get_platform(session, "acme")
            other = await connectors.create_connector(
                session,
                runtime.connector_services,
                platform,
                {
                    "provider": "oauth2",
                    "slug": "other",
                    "settings": {
                        "authorize_url": "https://a.test/a",
                        "token_url": "https://a.test/t",
                    },
                },
                actor="test",
            )
            source = await connectors.get_connector(session, platform.id, "outlook-email")
            with pytest.raises(DecryptionError):
                runtime.keyring.decrypt(
                    source.client_secret or "", aad=connectors.client_secret_aad(other.id)
                )

    fresh_environment.with_runtime(_swap)


def test_rotation_reaches_secret_extras_kept_inside_json(
    fresh_environment: XkitEnvironment,
) -> None:
    """Slack's user token lives encrypted inside authorizations.extras; rotation must not
    leave it under a key that is about to be removed."""
    create_platform(fresh_environment, "acme")
    _add_connector(fresh_environment, "acme")
    user_token = "xoxp-known-plaintext-user-token"

    async def _store(runtime: Runtime) -> str:
        from sqlalchemy import select

        from xkit.db.models import Authorization, Connection, Context
        from xkit.db.types import new_id
        from xkit.services.connect import extras

        async with runtime.sessions() as session:
            connector = await session.scalar(select(Connector))
            assert connector is not None
            context = Context(id=new_id(), platform_id=connector.platform_id, external_id="u")
            connection = Connection(id=new_id(), platform_id=connector.platform_id,
                                    context_id=context.id, connector_id=connector.id)
            authorization = Authorization(id=new_id(), platform_id=connector.platform_id,
                                          connection_id=connection.id, status="active")
            for row in (context, connection, authorization):  # parents first
                session.add(row)
                await session.flush()
            extras.store(runtime.keyring, authorization, extras.Findings(
                values={"team_id": "T1"}, secrets={"user_token": user_token}))
            await session.commit()
            return authorization.id

    authorization_id = fresh_environment.with_runtime(_store)
    old_spec = fresh_environment.encryption_keys
    new_key = EncryptionKey.generate()
    fresh_environment.encryption_keys = f"{new_key.to_spec()},{old_spec}"
    result = fresh_environment.run_cli("keys", "rotate-encryption")
    assert result.returncode == 0, result.stderr
    assert "authorizations.extras._encrypted" in result.stdout
    fresh_environment.encryption_keys = new_key.to_spec()

    async def _read(runtime: Runtime) -> dict[str, object]:
        from xkit.db.models import Authorization
        from xkit.services.connect import extras

        async with runtime.sessions() as session:
            authorization = await session.get(Authorization, authorization_id)
            assert authorization is not None
            return extras.for_backend(runtime.keyring, authorization)

    assert fresh_environment.with_runtime(_read) == {"team_id": "T1", "user_token": user_token}
    assert user_token.encode() not in raw_dump(fresh_environment.database_url)


def test_rotation_stops_at_a_value_that_does_not_decrypt_and_says_where(
    fresh_environment: XkitEnvironment,
) -> None:
    create_platform(fresh_environment, "acme")

    async def _three_connectors_last_one_broken(runtime: Runtime) -> str:
        """Three connectors with secrets; the last by id (rotation's order) gets the first's
        ciphertext, as if a row had been copied by hand: it no longer decrypts."""
        from sqlalchemy import select, update

        from xkit.services.configuration import platforms

        async with runtime.sessions() as session:
            platform = await platforms.get_platform(session, "acme")
            for slug in ("mail-a", "mail-b", "mail-c"):
                await connectors.create_connector(
                    session, runtime.connector_services, platform,
                    {"provider": "outlook-email", "slug": slug, "client_id": "cid",
                     "client_secret": f"{SECRET}-{slug}"}, actor="test")
            rows = (await session.execute(
                select(Connector.id, Connector.client_secret).order_by(Connector.id))).all()
            await session.execute(update(Connector).where(Connector.id == rows[-1].id)
                                  .values(client_secret=rows[0].client_secret))
            await session.commit()
            return str(rows[-1].id)

    broken_id = fresh_environment.with_runtime(_three_connectors_last_one_broken)
    old_spec = fresh_environment.encryption_keys
    fresh_environment.encryption_keys = f"{EncryptionKey.generate().to_spec()},{old_spec}"
    result = fresh_environment.run_cli("keys", "rotate-encryption")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"connectors.client_secret of row {broken_id} does not decrypt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    counts = next(line for line in result.stdout.splitlines()
                  if line.startswith("connectors.client_secret"))
    assert "re-encrypted      2" in counts
    assert "may be removed" not in result.stdout  # the old key still protects a value
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("replicas", [3, 10])
def test_replicas_opening_a_fresh_database_at_once_all_start(
    fresh_environment: XkitEnvironment, replicas: int
) -> None:
    """Every replica finds no canary and writes one; the database keeps one, nobody fails.
    (In one process, so that their reads and inserts really interleave.)"""
    assert fresh_environment.run_cli("migrate").returncode == 0

    async def _start_together() -> list[str]:
        started = await asyncio.gather(
            *(start_runtime(fresh_environment.settings(), migrate_now=False)
              for _ in range(replicas)),
            return_exceptions=True)
        for runtime in started:
            if isinstance(runtime, Runtime):
                await runtime.close()
        return [f"{type(r).__name__}: {r}" for r in started if not isinstance(r, Runtime)]

    assert asyncio.run(_start_together()) == []

    async def _canaries(runtime: Runtime) -> list[str]:
        async with runtime.sessions() as session:
            return list((await session.scalars(select(KeyringCanary.key_id))).all())

    assert fresh_environment.with_runtime(_canaries) == [
        fresh_environment.encryption_keys.split(":")[0]]


@pytest.mark.skipif(backend() != "postgresql", reason="replicas share a PostgreSQL database")
@pytest.mark.parametrize("replicas", [3, 10])
def test_servers_started_together_on_a_fresh_database_all_come_up(
    fresh_environment: XkitEnvironment, tmp_path: Path, replicas: int
) -> None:
    """What an orchestrator does after `xkit migrate`: start every replica at the same time."""
    assert fresh_environment.run_cli("migrate").returncode == 0
    env = {**fresh_environment.variables(), "XKIT_MIGRATE_ON_START": "false",
           "XKIT_WORKER_ENABLED": "false", "XKIT_DATABASE_POOL_SIZE": "2"}
    ports = [free_port() for _ in range(replicas)]
    servers = [ManagedProcess([sys.executable, "-m", "xkit", "serve", "--port", str(port)],
                              env=env, log_path=tmp_path / f"serve-{port}.log")
               for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            try:
                wait_for_http(f"http://127.0.0.1:{port}/readyz", timeout=120,
                              process=server.process)
            except (RuntimeError, TimeoutError) as exc:
                pytest.fail(f"replica on {port}: {exc}\n{server.output()}")
        assert [server.process.poll() for server in servers] == [None] * replicas
    finally:
        for server in servers:
            server.stop()
