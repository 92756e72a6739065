"""Contexts: the developer's users, teams or companies, each with their own connections."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Context, Platform
from xkit.errors import InvalidInput, NotFound
from xkit.services.connections import announce_removal, list_context_connections


async def upsert_context(
    session: AsyncSession,
    platform: Platform,
    *,
    external_id: str,
    external_name: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> tuple[Context, bool]:
    """Create the context or update its name and attributes; returns (context, created)."""
    external_id = external_id.strip()
    if not external_id or len(external_id) > 255:
        raise InvalidInput("external_id must be 1-255 characters", details={"field": "external_id"})
    context = await session.scalar(
        select(Context).where(
            Context.platform_id == platform.id, Context.external_id == external_id
        )
    )
    created = context is None
    if context is None:
        context = Context(
            platform_id=platform.id,
            external_id=external_id,
            external_name=external_name,
            attributes=attributes or {},
        )
        session.add(context)
    else:
        if external_name is not None:
            context.external_name = external_name
        if attributes:
            context.attributes = {**context.attributes, **attributes}
    await session.commit()
    return context, created


async def get_context(session: AsyncSession, platform_id: str, external_id: str) -> Context:
    context = await session.scalar(
        select(Context).where(
            Context.platform_id == platform_id, Context.external_id == external_id
        )
    )
    if context is None:
        raise NotFound(f"no context with external_id {external_id!r}", code="context_not_found")
    return context


async def delete_context(session: AsyncSession, platform_id: str, external_id: str) -> None:
    """Deletes the context with its connections and their credentials."""
    context = await get_context(session, platform_id, external_id)
    await announce_removal(session, await list_context_connections(session, context))
    await session.delete(context)
    await session.commit()
