"""Opening the keyring at start-up, and re-encrypting everything under a new key.

Start-up compares the loaded keys with the canaries in the database (one per key that has
written data) so a missing or wrong key stops the server with a sentence that says what to fix,
instead of failing later on the first request that needs a secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import (
    DecryptionError,
    Keyring,
    create_key_file,
    parse_key_spec,
    read_key_file,
)
from xkit.db.models import ENCRYPTED_COLUMNS, ENCRYPTED_JSON_KEYS, Base, Connector, KeyringCanary
from xkit.db.results import rows_matched
from xkit.db.upsert import insert_if_absent
from xkit.errors import ConfigurationError
from xkit.settings import Settings

log = logging.getLogger("xkit.keyring")

CANARY_PLAINTEXT = "xkit keyring canary"


def canary_aad(key_id: str) -> str:
    return f"keyring_canaries.ciphertext:{key_id}"


def column_aad(table: str, column: str, row_id: str) -> str:
    """Associated data binding a ciphertext to exactly one table, column and row."""
    return f"{table}.{column}:{row_id}"


async def open_keyring(settings: Settings, session: AsyncSession) -> Keyring:
    """Load the configured keys (or the key file), creating the key file on first run only."""
    canaries = list((await session.scalars(select(KeyringCanary))).all())
    if settings.encryption_keys is not None:
        keyring = Keyring(parse_key_spec(settings.encryption_keys.get_secret_value()))
    elif settings.key_file.exists():
        keyring = Keyring(read_key_file(settings.key_file))
    elif canaries:
        raise ConfigurationError(
            "the database holds secrets encrypted with key(s) "
            f"{', '.join(sorted(c.key_id for c in canaries))}, but no key is configured: "
            f"set XKIT_ENCRYPTION_KEYS or restore the key file {settings.key_file}"
        )
    else:
        key = create_key_file(settings.key_file)
        log.warning(
            "created encryption key %s in %s (mode 0600); back it up, secrets cannot be "
            "read without it",
            key.key_id,
            settings.key_file,
        )
        keyring = Keyring([key])
    _check_canaries(keyring, canaries)
    if not any(c.key_id == keyring.primary_key_id for c in canaries):
        # Replicas started together all find no canary and all write one: the database keeps
        # the first, and everyone checks what it kept (a replica given another key under the
        # same id must not start).
        key_id = keyring.primary_key_id
        await insert_if_absent(
            session,
            KeyringCanary,
            {"key_id": key_id,
             "ciphertext": keyring.encrypt(CANARY_PLAINTEXT, aad=canary_aad(key_id))},
            unique=["key_id"],
        )
        await session.commit()
        _check_canaries(keyring, list((await session.scalars(select(KeyringCanary))).all()))
    return keyring


def _check_canaries(keyring: Keyring, canaries: list[KeyringCanary]) -> None:
    missing = sorted(c.key_id for c in canaries if c.key_id not in keyring.key_ids)
    if missing:
        raise ConfigurationError(
            f"the database holds secrets encrypted with key(s) {', '.join(missing)}, which "
            f"are not loaded (loaded: {', '.join(keyring.key_ids)}); add them to "
            "XKIT_ENCRYPTION_KEYS after the new primary key"
        )
    for canary in canaries:
        try:
            keyring.decrypt(canary.ciphertext, aad=canary_aad(canary.key_id))
        except DecryptionError:
            raise ConfigurationError(
                f"encryption key {canary.key_id!r} is not the key that encrypted this "
                "database's secrets (same id, different key material)"
            ) from None


@dataclass
class RotationReport:
    re_encrypted: dict[str, int]
    already_current: dict[str, int]
    retired_keys: list[str]


class RotationStopped(Exception):
    """A stored value did not decrypt with any loaded key, so rotation stopped there.

    Everything re-encrypted before it is committed (``report`` counts it) and no key is
    retired. The message names the table, column and row — never the value."""

    def __init__(self, report: RotationReport, table: str, column: str, row_id: str,
                 reason: str) -> None:
        super().__init__(
            f"{table}.{column} of row {row_id} does not decrypt ({reason}); rotation stopped "
            "there. Load the key it was encrypted with, or replace that value (set the "
            "connector's client secret again, or remove the connection), then run the "
            "command again"
        )
        self.report = report
        self.location = (table, column, row_id)


def _row_key(model: type[Base]) -> ColumnElement[Any]:
    """The single-column primary key (``id``) by which rotation walks a table in batches."""
    return inspect(model).primary_key[0]


async def rotate_encryption(
    session: AsyncSession, keyring: Keyring, batch_size: int = 500
) -> RotationReport:
    """Re-encrypt every stored secret under the primary key, batch by batch, then retire the
    canaries of keys that no longer protect anything so they can be removed from config."""
    report = RotationReport(re_encrypted={}, already_current={}, retired_keys=[])
    for model, column_name in ENCRYPTED_COLUMNS:
        table = model.__tablename__
        label = f"{table}.{column_name}"
        column = getattr(model, column_name)
        row_key = _row_key(model)
        report.re_encrypted[label] = 0
        report.already_current[label] = 0
        last_id = ""
        while True:
            rows = (
                await session.execute(
                    select(row_key, column)
                    .where(column.is_not(None), row_key > last_id)
                    .order_by(row_key)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                break
            for row_id, ciphertext in rows:
                last_id = row_id
                if not keyring.needs_rotation(ciphertext):
                    report.already_current[label] += 1
                    continue
                aad = column_aad(table, column_name, row_id)
                try:
                    plaintext = keyring.decrypt(ciphertext, aad=aad)
                except DecryptionError as exc:
                    await session.commit()  # keep this batch's rows rotated so far
                    raise RotationStopped(report, table, column_name, row_id, str(exc)) from None
                fresh = keyring.encrypt(plaintext, aad=aad)
                # Compare-and-set: a refresh that rewrote the token meanwhile wins.
                result = await session.execute(
                    update(model)
                    .where(row_key == row_id, column == ciphertext)
                    .values({column_name: fresh})
                )
                report.re_encrypted[label] += rows_matched(result)
            await session.commit()
    await _rotate_json_secrets(session, keyring, report, batch_size)
    for canary in (await session.scalars(select(KeyringCanary))).all():
        if canary.key_id != keyring.primary_key_id:
            report.retired_keys.append(canary.key_id)
            await session.delete(canary)
    await session.commit()
    return report


async def _rotate_json_secrets(
    session: AsyncSession, keyring: Keyring, report: RotationReport, batch_size: int
) -> None:
    """Re-encrypt ciphertexts kept inside JSON columns (an authorization's secret extras).

    JSON has no equality in PostgreSQL, so instead of a compare-and-set each row is re-read
    under ``FOR UPDATE`` and rewritten from what is stored then."""
    for model, column_name, key in ENCRYPTED_JSON_KEYS:
        table = model.__tablename__
        label = f"{table}.{column_name}.{key}"
        report.re_encrypted[label] = 0
        report.already_current[label] = 0
        column = getattr(model, column_name)
        row_key = _row_key(model)
        last_id = ""
        while True:
            rows = (
                await session.execute(
                    select(row_key, column)
                    .where(row_key > last_id)
                    .order_by(row_key)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                break
            for row_id, document in rows:
                last_id = row_id
                ciphertext = document.get(key) if isinstance(document, dict) else None
                if not isinstance(ciphertext, str):
                    continue
                if not keyring.needs_rotation(ciphertext):
                    report.already_current[label] += 1
                    continue
                locked = select(model).where(row_key == row_id)
                row = await session.scalar(locked.with_for_update())
                current = getattr(row, column_name) if row is not None else None
                if not isinstance(current, dict) or not isinstance(current.get(key), str):
                    continue
                aad = column_aad(table, column_name, row_id)
                try:
                    plaintext = keyring.decrypt(current[key], aad=aad)
                except DecryptionError as exc:
                    await session.commit()  # keep this batch's rows rotated so far
                    raise RotationStopped(report, table, f"{column_name}.{key}", row_id,
                                          str(exc)) from None
                fresh = keyring.encrypt(plaintext, aad=aad)
                setattr(row, column_name, {**current, key: fresh})
                report.re_encrypted[label] += 1
            await session.commit()


__all__ = ["column_aad", "open_keyring", "rotate_encryption", "RotationReport", "RotationStopped"]


def client_secret_aad(connector_id: str) -> str:
    return column_aad("connectors", "client_secret", connector_id)


def decrypt_client_secret(keyring: Keyring, connector: Connector) -> str | None:
    """The connector's client secret (or service account key), decrypted; None if unset."""
    if connector.client_secret is None:
        return None
    return keyring.decrypt(connector.client_secret, aad=client_secret_aad(connector.id))
