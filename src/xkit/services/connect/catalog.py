"""What end users may see of a platform: its enabled connectors and their own connections."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Connector, Platform
from xkit.errors import NotFound
from xkit.providers.marks import mark_path
from xkit.providers.registry import ProviderRegistry
from xkit.services.configuration.connectors import is_ready
from xkit.services.connect import warnings
from xkit.services.tokens.records import GrantRecord, ShownConnection


async def catalog_connectors(session: AsyncSession, providers: ProviderRegistry,
                             platform_id: str) -> list[Connector]:
    """Enabled connectors whose template is loaded and whose credentials are set."""
    found = await session.scalars(select(Connector).where(
        Connector.platform_id == platform_id, Connector.enabled.is_(True)).order_by(Connector.name))
    return [c for c in found.all()
            if c.provider in providers and is_ready(c, providers.get(c.provider))]


async def catalog_connector(session: AsyncSession, providers: ProviderRegistry, platform_id: str,
                            slug: str) -> Connector:
    for connector in await catalog_connectors(session, providers, platform_id):
        if connector.slug == slug:
            return connector
    raise NotFound(f"no connector {slug!r} in the catalog", code="connector_not_found")


def public_platform(platform: Platform) -> dict[str, Any]:
    return {"slug": platform.slug, "name": platform.name, "branding": dict(platform.branding)}


def public_connector(connector: Connector, providers: ProviderRegistry,
                     public_url: str) -> dict[str, Any]:
    """A connector as the catalog shows it. ``mark_url`` is absolute: an embedded catalog
    shows the mark on the developer's origin, from xkit's (``logo_url``, if set, wins)."""
    template = providers.get(connector.provider)
    return {
        "slug": connector.slug,
        "name": connector.name,
        "short_description": connector.short_description,
        "description": connector.description,
        "logo_url": connector.logo_url,
        "mark": template.mark.model_dump(),
        "categories": list(template.categories),
        "mark_url": f"{public_url}{mark_path(template)}",
        "auth_type": template.auth_type,
        "multiple_connections": connector.multiple_connections,
        "collect": [f.model_dump(include={"name", "label", "description", "type", "options",
                                          "suffix", "required"}) for f in template.collect],
    }


def public_authorization(authorization: GrantRecord | None) -> dict[str, Any] | None:
    if authorization is None:
        return None
    return {
        "id": authorization.id,
        "connection_id": authorization.connection_id,
        "status": authorization.status,
        "error_code": authorization.error_code,
        "error_message": authorization.error_message,
        "display_label": authorization.display_label,
        "granted_scopes": list(authorization.granted_scopes),
        "warnings": warnings.of(authorization),
    }


def public_connection(view: ShownConnection) -> dict[str, Any]:
    return {
        "id": view.connection.id,
        "connector": {"slug": view.connector.slug, "name": view.connector.name},
        "enabled": view.connection.enabled,
        "status": view.status,
        "authorization": public_authorization(view.authorization),
        "created_at": view.connection.created_at.isoformat(),
    }
