"""An installation from the first release, with data in it, upgraded by ``xkit migrate``
through every later migration still serves its tokens (issue 15, "Backups and upgrades").

The rows are written with plain SQL against the tables as migration 0001 made them, not with
today's models: those carry later columns, and the point is that the later migrations cope with
rows that never had them."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support.xkit import PlatformCredentials, XkitEnvironment, XkitServer
from xkit.crypto import Keyring, fingerprint, parse_key_spec
from xkit.db import migrate
from xkit.db.engine import create_engine
from xkit.db.types import UTCDateTime, new_id, utcnow
from xkit.services.configuration.api_keys import PUBLISHABLE_PREFIX, SECRET_PREFIX
from xkit.services.configuration.keyring import CANARY_PLAINTEXT, canary_aad, column_aad

ACCESS_TOKEN = "first-release-access-token"
PUBLISHABLE_KEY = PUBLISHABLE_PREFIX + "firstrelease"
SCOPES = ["openid", "offline_access", "User.Read", "Mail.Read"]


def _table(name: str, columns: list[str]) -> sa.TableClause:
    """A lightweight table of 0001's columns, typed where the value needs converting (JSON,
    and UTC datetimes, which SQLite stores as text)."""
    def typed(column: str) -> sa.ColumnClause[Any]:
        if column in JSON_COLUMNS:
            return sa.column(column, sa.JSON())
        if column in MOMENT_COLUMNS:
            return sa.column(column, UTCDateTime())
        return sa.column(column)
    return sa.table(name, *(typed(c) for c in columns))


def _first_release_rows(keyring: Keyring, secret: str) -> dict[str, list[dict[str, Any]]]:
    """A platform with an API key, an Outlook connector, and one context connected to it with
    an active authorization whose tokens expire far in the future — as 0001 stored them."""
    now = utcnow()
    platform_id, connector_id, context_id = new_id(), new_id(), new_id()
    connection_id, authorization_id = new_id(), new_id()
    key_id = keyring.primary_key_id
    stamps = {"created_at": now, "updated_at": now}
    return {
        "keyring_canaries": [{"key_id": key_id, "created_at": now, "ciphertext": keyring.encrypt(
            CANARY_PLAINTEXT, aad=canary_aad(key_id))}],
        "platforms": [{"id": platform_id, "slug": "oldco", "name": "Old Co",
                       "allowed_origins": ["https://app.oldco.test"],
                       "login_redirect_url": None, "branding": {}, **stamps}],
        "api_keys": [{"id": new_id(), "platform_id": platform_id, "label": "Default",
                      "publishable_key": PUBLISHABLE_KEY, "secret_hash": fingerprint(secret),
                      "secret_hint": secret[-4:], "created_at": now, "last_used_at": None,
                      "revoked_at": None}],
        "connectors": [{
            "id": connector_id, "platform_id": platform_id, "slug": "outlook-email",
            "provider": "outlook-email", "name": "Outlook", "short_description": "Mail",
            "description": "", "logo_url": None, "client_id": "first-release-client",
            "client_secret": keyring.encrypt(
                "first-release-client-secret",
                aad=column_aad("connectors", "client_secret", connector_id)),
            "client_secret_set_at": now, "scopes": SCOPES, "settings": {}, "enabled": True,
            "multiple_connections": False, **stamps}],
        "contexts": [{"id": context_id, "platform_id": platform_id, "external_id": "user-1",
                      "external_name": "User One", "attributes": {}, **stamps}],
        "connections": [{"id": connection_id, "platform_id": platform_id,
                         "context_id": context_id, "connector_id": connector_id,
                         "enabled": True, **stamps}],
        "authorizations": [{
            "id": authorization_id, "platform_id": platform_id, "connection_id": connection_id,
            "status": "active", "error_code": None, "error_message": None,
            "display_label": "user1@contoso.test", "provider_account_id": "account-1",
            "granted_scopes": SCOPES, "state_hash": None, "state_expires_at": None,
            "pkce_verifier": None, "collected": None,
            "access_token": keyring.encrypt(
                ACCESS_TOKEN, aad=column_aad("authorizations", "access_token", authorization_id)),
            "refresh_token": keyring.encrypt(
                "first-release-refresh-token",
                aad=column_aad("authorizations", "refresh_token", authorization_id)),
            "token_type": "Bearer", "expires_at": now + dt.timedelta(days=3650), "extras": {},
            "refresh_lease_owner": None, "refresh_lease_until": None, "last_refreshed_at": now,
            "last_used_at": None, **stamps}],
    }


JSON_COLUMNS = ("allowed_origins", "branding", "scopes", "settings", "attributes",
                "granted_scopes", "extras")
MOMENT_COLUMNS = ("created_at", "updated_at", "last_used_at", "revoked_at",
                  "client_secret_set_at", "state_expires_at", "expires_at",
                  "refresh_lease_until", "last_refreshed_at")


async def _install_first_release(environment: XkitEnvironment, secret: str) -> str | None:
    """Migrate an empty database to 0001 only, write the first release's rows; its revision."""
    engine = create_engine(environment.database_url)
    try:
        await migrate.upgrade(engine, "0001")
        keyring = Keyring(parse_key_spec(environment.encryption_keys))
        async with engine.begin() as connection:
            for name, rows in _first_release_rows(keyring, secret).items():
                await connection.execute(sa.insert(_table(name, list(rows[0]))), rows)
    finally:
        await engine.dispose()
    return await _revision(environment)


async def _revision(environment: XkitEnvironment) -> str | None:
    engine = create_engine(environment.database_url)
    try:
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


def test_first_release_database_upgrades_and_still_serves(
    fresh_environment: XkitEnvironment, tmp_path: Path
) -> None:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    if fresh_environment.database_url.startswith("sqlite"):
        fresh_environment.data_dir.mkdir(parents=True, exist_ok=True)
    assert asyncio.run(_install_first_release(fresh_environment, secret)) == "0001"

    # the operator's upgrade: `xkit migrate`, then servers that do not migrate by themselves
    fresh_environment.extra = {"XKIT_MIGRATE_ON_START": "false"}
    upgraded = fresh_environment.run_cli("migrate")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Traceback" not in upgraded.stdout + upgraded.stderr
    assert asyncio.run(_revision(fresh_environment)) == migrate.head_revision()

    server = XkitServer(fresh_environment, tmp_path / "xkit-serve.log")
    try:
        platform = PlatformCredentials(slug="oldco", platform_id="",
                                       publishable_key=PUBLISHABLE_KEY, secret_key=secret)
        with platform.client(server) as client:
            response = client.get("/api/platform/contexts/user-1/connections/outlook-email")
        assert response.status_code == 200, response.text
        assert response.json()["authorization"]["access_token"] == ACCESS_TOKEN
    finally:
        server.stop()
