"""Platforms: one developer's product each, fully isolated from the others."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Platform, PlatformAdmin
from xkit.errors import Conflict, FieldErrors, NotFound
from xkit.services.admin import audit
from xkit.services.configuration.validation import (
    check_http_url,
    check_origin,
    check_slug,
    check_text,
)


async def _checked(
    session: AsyncSession, fields: dict[str, Any], platform: Platform | None
) -> tuple[FieldErrors, dict[str, Any]]:
    """Every given field checked (``platform``: the one being changed, None when creating):
    the clean values, and every problem at once rather than the first."""
    problems = FieldErrors()
    clean: dict[str, Any] = {}
    if "slug" in fields and (platform is None or fields["slug"] != platform.slug):
        with problems.field("slug"):
            slug = check_slug(fields["slug"])
            if await session.scalar(select(Platform.id).where(Platform.slug == slug)):
                raise Conflict(
                    f"a platform with slug {slug!r} already exists",
                    code="slug_taken",
                    details={"field": "slug"},
                )
            clean["slug"] = slug
    if "name" in fields:
        with problems.field("name"):
            clean["name"] = check_text(str(fields["name"]).strip(), field="name", maximum=200)
    if "allowed_origins" in fields:
        origins = []
        for origin in fields["allowed_origins"]:
            if origin.strip():
                with problems.field("allowed_origins"):
                    origins.append(check_origin(origin))
        clean["allowed_origins"] = origins
    if "login_redirect_url" in fields:
        url = fields["login_redirect_url"]
        with problems.field("login_redirect_url"):
            clean["login_redirect_url"] = (
                check_http_url(url, field="login_redirect_url") if url else None
            )
    return problems, clean


async def platform_problems(
    session: AsyncSession, fields: dict[str, Any], platform: Platform | None = None
) -> dict[str, str]:
    """What is wrong with ``fields`` (field → message), writing nothing: a form that has
    problems of its own shows these beside them, all at once."""
    problems, _ = await _checked(session, fields, platform)
    return problems.errors


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
    """Refused with every problem in ``details["errors"]``, or created."""
    problems, clean = await _checked(session, {
        "slug": slug, "name": name, "allowed_origins": list(allowed_origins),
        "login_redirect_url": login_redirect_url}, None)
    problems.raise_if_any()
    platform = Platform(
        slug=clean["slug"],
        name=clean["name"] or slug,
        allowed_origins=clean["allowed_origins"],
        login_redirect_url=clean["login_redirect_url"],
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
    """Apply the given fields; only the known, validated ones. Nothing changes unless all of
    them are valid, and a refusal names every problem (``details["errors"]``)."""
    problems, clean = await _checked(session, changes, platform)
    problems.raise_if_any()
    if "slug" in clean:
        platform.slug = clean["slug"]
    if "name" in clean:
        platform.name = clean["name"] or platform.slug
    if "allowed_origins" in clean:
        platform.allowed_origins = clean["allowed_origins"]
    if "login_redirect_url" in clean:
        platform.login_redirect_url = clean["login_redirect_url"]
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
