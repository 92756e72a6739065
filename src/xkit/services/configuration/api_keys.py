"""API keys: publishable + secret pairs that authenticate a developer's backend.

The secret carries 256 random bits, so a plain SHA-256 is a sound way to store it (a slow
password hash buys nothing against brute force here, and would sit on every API call's path).
It is shown once at creation and never again.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import fingerprint
from xkit.db.models import ApiKey, Platform
from xkit.db.types import utcnow
from xkit.errors import NotFound, Unauthorized
from xkit.services.admin import audit
from xkit.services.configuration.validation import check_text
from xkit.services.tokens.records import KeyRecord
from xkit.services.tokens.use_ledger import UseLedger

PUBLISHABLE_PREFIX = "xkit_pk_"
SECRET_PREFIX = "xkit_sk_"
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


async def create_api_key(
    session: AsyncSession, platform: Platform, *, actor: str, label: str = ""
) -> tuple[ApiKey, str]:
    """Returns the stored key and the secret, which exists in plaintext only in this return."""
    label = check_text(label.strip(), field="label", maximum=200)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        platform_id=platform.id,
        label=label,
        publishable_key=PUBLISHABLE_PREFIX + secrets.token_urlsafe(12),
        secret_hash=fingerprint(secret),
        secret_hint=secret[-4:],
    )
    session.add(key)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_key.created",
        platform_id=platform.id,
        target_type="api_key",
        target_id=key.publishable_key,
    )
    await session.commit()
    return key, secret


async def list_api_keys(session: AsyncSession, platform_id: str) -> list[ApiKey]:
    result = await session.scalars(
        select(ApiKey).where(ApiKey.platform_id == platform_id).order_by(ApiKey.created_at)
    )
    return list(result.all())


async def revoke_api_key(
    session: AsyncSession, platform_id: str, publishable_key: str, *, actor: str
) -> ApiKey:
    key = await session.scalar(
        select(ApiKey).where(
            ApiKey.platform_id == platform_id, ApiKey.publishable_key == publishable_key
        )
    )
    if key is None:
        raise NotFound(f"no API key {publishable_key!r} on this platform", code="api_key_not_found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="api_key.revoked",
            platform_id=platform_id,
            target_type="api_key",
            target_id=publishable_key,
        )
        await session.commit()
    return key


@dataclass(frozen=True, slots=True)
class CallingKey:
    """A live API key as a request that sent it needs it: the key, and its platform's id and
    slug. Read with one Core statement: every Platform API call reads it, and loading the key
    and its platform as ORM objects cost more CPU than the database spent (bench/: the
    Platform API routes)."""

    id: str
    publishable_key: str
    secret_hash: str
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    platform_id: str
    platform_slug: str


_KEYS, _PLATFORMS = ApiKey.__table__, Platform.__table__
# Built once: building a statement costs more CPU than the database spends answering it.
_BY_SECRET_HASH = (
    select(_KEYS.c.id, _KEYS.c.publishable_key, _KEYS.c.secret_hash, _KEYS.c.revoked_at,
           _KEYS.c.last_used_at, _KEYS.c.platform_id, _PLATFORMS.c.slug.label("platform_slug"))
    .join(_PLATFORMS, _PLATFORMS.c.id == _KEYS.c.platform_id)
    .where(_KEYS.c.secret_hash == bindparam("digest"))
)


async def authenticate(
    session: AsyncSession, uses: UseLedger, *, secret: str, publishable_key: str | None = None
) -> CallingKey:
    """The live key for ``secret`` (and ``publishable_key`` when given, as with Basic), its
    use noted."""
    refused = Unauthorized("invalid or revoked API key", code="invalid_api_key")
    if not secret.startswith(SECRET_PREFIX):
        raise refused
    digest = fingerprint(secret)
    row = (await session.execute(_BY_SECRET_HASH, {"digest": digest})).mappings().first()
    if row is None:
        raise refused
    key = CallingKey(**row)
    if not accepts(key, digest, publishable_key):
        raise refused
    record_use(uses, key)
    return key


def accepts(key: KeyRecord, digest: str, publishable_key: str | None) -> bool:
    """Whether ``key`` (found by ``digest``) is live and matches the publishable half sent."""
    if not hmac.compare_digest(key.secret_hash, digest) or key.revoked_at is not None:
        return False
    return publishable_key is None or hmac.compare_digest(
        key.publishable_key.encode(), publishable_key.encode())


def record_use(uses: UseLedger, key: KeyRecord) -> None:
    """``last_used_at`` is kept to the minute, for the dashboard and ``xkit keys list``."""
    uses.note_unless_recent(ApiKey.__table__, key.id, key.last_used_at, LAST_USED_GRANULARITY)
