"""The audit log: who did what and when. Details describe the change, never a secret value."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import AuditEvent


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    platform_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit row to the caller's transaction, so it commits with the change itself."""
    event = AuditEvent(
        platform_id=platform_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession, platform_id: str, limit: int = 100
) -> list[AuditEvent]:
    result = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.platform_id == platform_id)
        .order_by(AuditEvent.created_at.desc())
        .limit(limit)
    )
    return list(result.all())
