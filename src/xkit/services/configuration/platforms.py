"""Platforms: one developer's product each, fully isolated from the others."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Platform, PlatformAdmin
from xkit.errors import Conflict, NotFound
from xkit.services.admin import audit
from xkit.services.configuration.validation import (
    check_http_url,
    check_origin,
    check_slug,
    check_text,
)


async def create_platform(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    actor: str,
    allowed_origins: Sequence[str] = (),
    login_redirect_url: str | None = None,
    admin_user_id: str | None = None,
) -> Platform:
    check_slug(slug)
    if await session.scalar(select(Platform.id).where(Platform.slug == slug)):
        raise Conflict(
            f"a platform with slug {slug!r} already exists",
            code="slug_taken",
            details={"field": "slug"},
        )
    platform = Platform(
        slug=slug,
        name=check_text(name.strip(), field="name", maximum=200) or slug,
        allowed_origins=[check_origin(o) for o in allowed_origins],
        login_redirect_url=check_http_url(login_redirect_url, field="login_redirect_url")
        if login_redirect_url
        else None,
    )
    session.add(platform)
    await session.flush()
    if admin_user_id:
        session.add(PlatformAdmin(platform_id=platform.id, admin_user_id=admin_user_id))
    audit.record(
        session,
        actor=actor,
        action="platform.created",
        platform_id=platform.id,
        target_type="platform",
        target_id=platform.slug,
    )
    await session.commit()
    return platform


async def list_platforms(session: AsyncSession) -> list[Platform]:
    return list((await session.scalars(select(Platform).order_by(Platform.slug))).all())


async def find_platform(session: AsyncSession, slug: str) -> Platform | None:
    return await session.scalar(select(Platform).where(Platform.slug == slug))


async def allowed_origins(session: AsyncSession, slug: str) -> list[str]:
    """The web origins that may call the platform's browser API (none for no platform).

    Read on every cross-origin call rather than cached: a change must take effect in every
    replica at once, and it is one indexed lookup."""
    origins = await session.scalar(select(Platform.allowed_origins).where(Platform.slug == slug))
    return list(origins or [])


async def get_platform(session: AsyncSession, slug: str) -> Platform:
    platform = await find_platform(session, slug)
    if platform is None:
        raise NotFound(f"no platform with slug {slug!r}", code="platform_not_found")
    return platform


async def update_platform(
    session: AsyncSession, platform: Platform, *, actor: str, changes: dict[str, Any]
) -> Platform:
    """Apply the given fields; only the known, validated ones."""
    if "slug" in changes and changes["slug"] != platform.slug:
        slug = check_slug(changes["slug"])
        if await session.scalar(select(Platform.id).where(Platform.slug == slug)):
            raise Conflict(
                f"a platform with slug {slug!r} already exists",
                code="slug_taken",
                details={"field": "slug"},
            )
        platform.slug = slug
    if "name" in changes:
        name = check_text(str(changes["name"]).strip(), field="name", maximum=200)
        platform.name = name or platform.slug
    if "allowed_origins" in changes:
        platform.allowed_origins = [
            check_origin(o) for o in changes["allowed_origins"] if o.strip()
        ]
    if "login_redirect_url" in changes:
        url = changes["login_redirect_url"]
        platform.login_redirect_url = (
            check_http_url(url, field="login_redirect_url") if url else None
        )
    if "branding" in changes:
        platform.branding = dict(changes["branding"])
    audit.record(
        session,
        actor=actor,
        action="platform.updated",
        platform_id=platform.id,
        target_type="platform",
        target_id=platform.slug,
        details={"fields": sorted(changes)},
    )
    await session.commit()
    return platform
