"""Reads the dashboard needs and no other caller does: which platforms an admin may open,
context search, connection counts and states, a free connector slug.

Access follows one rule: a superuser may open every platform; anyone else only those linked
to them in ``platform_admins``. A platform they may not open is reported as *not found*, the
same as one that does not exist, so the dashboard never confirms another platform's slug.

Only a superuser may create platforms: an admin given some platforms was trusted with those,
and a platform they made would be one more nobody above them knows of (docs/dashboard.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import (
    AdminUser,
    Authorization,
    Connection,
    Connector,
    Context,
    Platform,
    PlatformAdmin,
)
from xkit.errors import Forbidden, NotFound
from xkit.services.tokens.connections import ConnectionView

CONTEXT_SEARCH_LIMIT = 50


def may_create_platforms(admin: AdminUser) -> bool:
    return bool(admin.is_superuser)


def check_may_create_platforms(admin: AdminUser) -> None:
    if not may_create_platforms(admin):
        raise Forbidden(
            "only an admin who manages every platform may create platforms; ask one to create "
            "it, or to give you access to an existing one",
            code="platform_creation_forbidden",
        )


async def platforms_for_admin(session: AsyncSession, admin: AdminUser) -> list[Platform]:
    query = select(Platform).order_by(Platform.name, Platform.slug)
    if not admin.is_superuser:
        query = query.join(PlatformAdmin, PlatformAdmin.platform_id == Platform.id).where(
            PlatformAdmin.admin_user_id == admin.id)
    return list((await session.scalars(query)).all())


async def platform_for_admin(session: AsyncSession, admin: AdminUser, slug: str) -> Platform:
    """The platform ``slug`` if ``admin`` may manage it; else NotFound, as if it did not exist."""
    query = select(Platform).where(Platform.slug == slug)
    if not admin.is_superuser:
        query = query.join(PlatformAdmin, PlatformAdmin.platform_id == Platform.id).where(
            PlatformAdmin.admin_user_id == admin.id)
    platform = await session.scalar(query)
    if platform is None:
        raise NotFound(f"no platform with slug {slug!r}", code="platform_not_found")
    return platform


async def platform_by_id_for_admin(session: AsyncSession, admin: AdminUser,
                                   platform_id: str | None) -> Platform | None:
    if not platform_id:
        return None
    platform = await session.get(Platform, platform_id)
    if platform is None:
        return None
    if admin.is_superuser:
        return platform
    membership = await session.get(PlatformAdmin, (platform_id, admin.id))
    return platform if membership is not None else None


def _established_connections() -> Select[str]:
    """Connections whose credential got tokens at least once: the newest such authorization
    stands for the connection (``latest_authorizations``), working or needing a reconnect."""
    return (select(Authorization.connection_id)
            .where(or_(Authorization.status == "active", Authorization.access_token.is_not(None)))
            .distinct())


async def connection_counts(session: AsyncSession, platform_id: str) -> dict[str, int]:
    """Connections per connector id. Only connections that were made count: a first attempt
    still running, cancelled or refused is not a connection, whatever rows it left behind."""
    rows = await session.execute(
        select(Connection.connector_id, func.count())
        .where(Connection.platform_id == platform_id,
               Connection.id.in_(_established_connections()))
        .group_by(Connection.connector_id))
    return {connector_id: int(count) for connector_id, count in rows.all()}


@dataclass(frozen=True)
class ConnectionState:
    """How the dashboard labels a connection: by what it is, never "connected" for an attempt
    that did not finish. ``kind`` is stable (tests, CSS); ``label`` is for people."""

    kind: str  # connected | needs_reconnect | failed | cancelled | pending | disabled | none
    label: str
    reason: str | None = None
    tone: str = "off"  # the badge's colour: ok | warn | bad | off


def connection_state(view: ConnectionView) -> ConnectionState:
    """The truth about one connection, from the authorization that stands for it."""
    authorization = view.authorization
    if not view.connection.enabled:
        return ConnectionState("disabled", "Disabled")
    if authorization is None:
        return ConnectionState("none", "Not connected")
    reason = authorization.error_message or authorization.error_code
    established = authorization.status == "active" or authorization.access_token is not None
    if authorization.status == "active":
        return ConnectionState("connected", "Connected", tone="ok")
    if authorization.status == "error" and established:
        return ConnectionState("needs_reconnect", "Needs reconnect", reason, tone="warn")
    if authorization.status == "error" and authorization.error_code == "cancelled":
        return ConnectionState("cancelled", "Cancelled")
    if authorization.status == "error" or authorization.error_code:
        # An attempt that ended in an error, or one still open whose last try was refused
        # (an API key the provider did not accept): it failed, and says why.
        return ConnectionState("failed", "Failed", reason, tone="bad")
    return ConnectionState("pending", "In progress", "Waiting for the user to finish "
                                                    "connecting.", tone="warn")


async def free_connector_slug(session: AsyncSession, platform_id: str, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``… the first one this platform does not use yet."""
    taken = set((await session.scalars(select(Connector.slug).where(
        Connector.platform_id == platform_id, Connector.slug.like(f"{base}%")))).all())
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_contexts(session: AsyncSession, platform_id: str, query: str = "", *,
                          limit: int = CONTEXT_SEARCH_LIMIT) -> list[Context]:
    """Contexts whose external id or name contains ``query`` (any case); newest first."""
    statement = select(Context).where(Context.platform_id == platform_id)
    query = query.strip()
    if query:
        pattern = _like_pattern(query)
        statement = statement.where(or_(
            func.lower(Context.external_id).like(pattern, escape="\\"),
            func.lower(func.coalesce(Context.external_name, "")).like(pattern, escape="\\")))
    statement = statement.order_by(Context.updated_at.desc(), Context.id).limit(limit)
    return list((await session.scalars(statement)).all())


async def get_context_by_id(session: AsyncSession, platform_id: str, context_id: str) -> Context:
    context = await session.scalar(select(Context).where(
        Context.platform_id == platform_id, Context.id == context_id))
    if context is None:
        raise NotFound("no such context", code="context_not_found")
    return context
