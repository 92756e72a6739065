"""Single-use, short-lived tokens stored as hashes (the popup's start link, setup links).

Consuming is one conditional UPDATE, so two requests racing with the same token cannot both
succeed, on any number of replicas.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import fingerprint
from xkit.db.models import OneTimeToken
from xkit.db.results import rows_matched
from xkit.db.types import utcnow

# The popup's start link, issued by the browser API and consumed by the popup page.
POPUP_START = "popup_start"


async def issue(
    session: AsyncSession,
    *,
    purpose: str,
    ttl: dt.timedelta,
    platform_id: str | None = None,
    subject_id: str | None = None,
) -> str:
    """Add a token to the caller's transaction and return it (the only plaintext copy)."""
    token = secrets.token_urlsafe(32)
    session.add(
        OneTimeToken(
            token_hash=fingerprint(token),
            purpose=purpose,
            platform_id=platform_id,
            subject_id=subject_id,
            expires_at=utcnow() + ttl,
        )
    )
    return token


async def consume(
    session: AsyncSession,
    *,
    purpose: str,
    token: str,
    platform_id: str | None = None,
    subject_id: str | None = None,
) -> bool:
    """Use the token if it is valid for exactly this purpose, platform and subject; commits."""
    used = await claim(
        session, purpose=purpose, token=token, platform_id=platform_id, subject_id=subject_id
    )
    await session.commit()
    return used


async def is_live(session: AsyncSession, *, purpose: str, token: str) -> bool:
    """Whether the token could be consumed now (without consuming it)."""
    if not token or len(token) > 200:
        return False
    found = await session.scalar(select(OneTimeToken.id).where(*_usable(purpose, token)))
    return found is not None


async def claim(
    session: AsyncSession,
    *,
    purpose: str,
    token: str,
    platform_id: str | None = None,
    subject_id: str | None = None,
) -> bool:
    """Like :func:`consume`, inside the caller's transaction, for callers that must spend the
    token and make their own change atomically."""
    if not token or len(token) > 200:
        return False
    statement = update(OneTimeToken).where(*_usable(purpose, token)).values(used_at=utcnow())
    if platform_id is not None:
        statement = statement.where(OneTimeToken.platform_id == platform_id)
    if subject_id is not None:
        statement = statement.where(OneTimeToken.subject_id == subject_id)
    result = await session.execute(statement)
    return rows_matched(result) == 1


def _usable(purpose: str, token: str) -> tuple[ColumnElement[bool], ...]:
    return (
        OneTimeToken.token_hash == fingerprint(token),
        OneTimeToken.purpose == purpose,
        OneTimeToken.used_at.is_(None),
        OneTimeToken.expires_at > utcnow(),
    )
