"""Seed a benchmark installation fast: the platform, key and connector through xkit's own
services, then contexts, connections and active authorizations in bulk (PostgreSQL ``COPY``,
SQLite multi-row inserts), with tokens encrypted by the real keyring and bound to their rows.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert

from xkit.crypto import EncryptionKey, Keyring
from xkit.db.models import Authorization, Connection, Context
from xkit.db.types import new_id, utcnow
from xkit.runtime import Runtime, start_runtime
from xkit.services.configuration import api_keys, platforms
from xkit.services.configuration.connectors import create_connector
from xkit.services.configuration.keyring import column_aad
from xkit.settings import Settings

CONNECTOR = "outlook-email"
CONTEXT_PREFIX = "bench-"
SCOPES = ["openid", "offline_access", "User.Read", "Mail.Read"]
BATCH = 20_000


@dataclass(frozen=True)
class Installation:
    """A seeded installation and what a load generator needs to call it."""

    database_url: str
    encryption_keys: str
    data_dir: Path
    platform_slug: str
    platform_id: str
    connector_id: str
    publishable_key: str
    secret_key: str
    connections: int
    seconds_to_seed: float

    def token_path(self, number: int | str) -> str:
        return f"/api/platform/contexts/{CONTEXT_PREFIX}{number}/connections/{CONNECTOR}"


def new_encryption_keys() -> str:
    return EncryptionKey.generate().to_spec()


async def seed(database_url: str, data_dir: Path, *, connections: int,
               encryption_keys: str | None = None, expires_in: dt.timedelta = dt.timedelta(days=1),
               connector_fields: dict[str, Any] | None = None,
               public_url: str = "http://127.0.0.1:8000") -> Installation:
    """Migrate, then create ``connections`` contexts each with one active Outlook connection
    whose access token expires ``expires_in`` from now (negative: already expired)."""
    started = time.monotonic()
    keys = encryption_keys or new_encryption_keys()
    # the connector may name a provider emulator on this machine (bench/flows.py)
    settings = Settings(database_url=database_url, encryption_keys=keys, data_dir=data_dir,
                        public_url=public_url, provider_allow_private_networks=True)
    runtime = await start_runtime(settings, migrate_now=True)
    try:
        async with runtime.sessions() as session:
            platform = await platforms.create_platform(
                session, slug="bench", name="Bench", actor="bench",
                allowed_origins=["https://app.bench.test"])
            key, secret = await api_keys.create_api_key(session, platform, actor="bench")
            connector = await create_connector(
                session, runtime.connector_services, platform,
                {"provider": CONNECTOR, "client_id": "bench-client",
                 "client_secret": "bench-client-secret", **(connector_fields or {})},
                actor="bench")
            platform_id, connector_id = platform.id, connector.id
        await _bulk_connections(runtime, platform_id, connector_id, range(connections),
                                expires_in)
    finally:
        await runtime.close()
    return Installation(database_url=database_url, encryption_keys=keys, data_dir=data_dir,
                        platform_slug="bench", platform_id=platform_id,
                        connector_id=connector_id, publishable_key=key.publishable_key,
                        secret_key=secret, connections=connections,
                        seconds_to_seed=time.monotonic() - started)


async def extend(installation: Installation, total: int,
                 expires_in: dt.timedelta = dt.timedelta(days=1)) -> Installation:
    """Add connections until there are ``total``; the new ones are numbered after the old."""
    started = time.monotonic()
    settings = Settings(database_url=installation.database_url,
                        encryption_keys=installation.encryption_keys,
                        data_dir=installation.data_dir)
    runtime = await start_runtime(settings, migrate_now=False)
    try:
        await _bulk_connections(runtime, installation.platform_id, installation.connector_id,
                                range(installation.connections, total), expires_in)
    finally:
        await runtime.close()
    return replace(installation, connections=total,
                   seconds_to_seed=time.monotonic() - started)


def _rows(keyring: Keyring, platform_id: str, connector_id: str, numbers: range,
          expires_in: dt.timedelta) -> tuple[list[dict[str, Any]], ...]:
    now = utcnow()
    contexts, connection_rows, authorizations = [], [], []
    for number in numbers:
        context_id, connection_id, authorization_id = new_id(), new_id(), new_id()
        contexts.append({"id": context_id, "platform_id": platform_id,
                         "external_id": f"{CONTEXT_PREFIX}{number}", "external_name": None,
                         "attributes": {}, "created_at": now, "updated_at": now})
        connection_rows.append({"id": connection_id, "platform_id": platform_id,
                                "context_id": context_id, "connector_id": connector_id,
                                "enabled": True, "created_at": now, "updated_at": now})
        authorizations.append({
            "id": authorization_id, "platform_id": platform_id, "connection_id": connection_id,
            "status": "active", "error_code": None, "error_message": None,
            "display_label": f"user{number}@contoso.test",
            "provider_account_id": f"00000000-0000-0000-0000-{number:012d}",
            "granted_scopes": SCOPES, "state_hash": None, "state_expires_at": None,
            "requested_scopes": SCOPES, "opener_origin": None, "return_url": None,
            "pkce_verifier": None, "collected": None, "browser_binding_hash": None,
            "access_token": keyring.encrypt(
                f"bench-access-{number}-{authorization_id}",
                aad=column_aad("authorizations", "access_token", authorization_id)),
            "refresh_token": keyring.encrypt(
                f"bench-refresh-{number}-{authorization_id}",
                aad=column_aad("authorizations", "refresh_token", authorization_id)),
            "token_type": "Bearer", "expires_at": now + expires_in, "extras": {},
            "refresh_lease_owner": None, "refresh_lease_until": None, "refresh_sent_at": None,
            "last_refreshed_at": now, "last_used_at": None, "created_at": now,
            "updated_at": now})
    return contexts, connection_rows, authorizations


async def _bulk_connections(runtime: Runtime, platform_id: str, connector_id: str,
                            numbers: range, expires_in: dt.timedelta) -> None:
    tables: list[Table] = [Context.__table__, Connection.__table__,  # type: ignore[list-item]
                           Authorization.__table__]  # type: ignore[list-item]
    postgres = not runtime.settings.is_sqlite
    for start in range(numbers.start, numbers.stop, BATCH):
        batches = _rows(runtime.keyring, platform_id, connector_id,
                        range(start, min(start + BATCH, numbers.stop)), expires_in)
        async with runtime.engine.begin() as connection:
            for table, rows in zip(tables, batches, strict=True):
                if postgres:
                    raw = await connection.get_raw_connection()
                    columns = [c.name for c in table.columns]
                    records = [tuple(_copy_value(row[c]) for c in columns) for row in rows]
                    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                        table.name, records=records, columns=columns)
                else:
                    await connection.execute(insert(table), rows)


def _copy_value(value: Any) -> Any:
    """COPY takes JSON columns as text; everything else goes as it is."""
    return json.dumps(value) if isinstance(value, dict | list) else value
