"""Connections as a developer's backend sees them: with a fresh access token when asked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Authorization, Connection, Connector, Context
from xkit.db.types import utcnow
from xkit.errors import NotFound
from xkit.oauth import ProviderError, TokenSet
from xkit.services import connections, events
from xkit.services.auth_types import auth_type_of
from xkit.services.authorization_values import decrypt_from, effective_settings
from xkit.services.catalog import public_connection
from xkit.services.connections import ConnectionView
from xkit.services.provider_http import oauth_client
from xkit.services.tokens import (
    TokenDeps,
    auth_context,
    fresh_authorization,
    healthiest_authorization,
    token_for_subject,
)


def describe(
    view: ConnectionView,
    authorization: Authorization | None,
    deps: TokenDeps | None = None,
    *,
    subject: str | None = None,
    subject_tokens: TokenSet | None = None,
) -> dict[str, Any]:
    """A connection with, when ``deps`` is given, its decrypted access token — or the token
    minted for ``subject`` — and, for API keys and passwords, the credentials themselves."""
    body: dict[str, Any] = {
        "connection": public_connection(view),
        "connector": {
            "slug": view.connector.slug,
            "name": view.connector.name,
            "provider": view.connector.provider,
        },
        "context": {"external_id": view.context.external_id},
    }
    if authorization is not None and deps is not None:
        expires_at = authorization.expires_at
        access_token = decrypt_from(deps.keyring, authorization, "access_token")
        token_type = authorization.token_type or "Bearer"
        if subject_tokens is not None:
            access_token, token_type = subject_tokens.access_token, subject_tokens.token_type
            expires_at = (utcnow() + dt.timedelta(seconds=subject_tokens.expires_in)
                          if subject_tokens.expires_in else None)
        body["authorization"] = {
            "id": authorization.id,
            "status": authorization.status,
            "access_token": access_token,
            "token_type": token_type,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "granted_scopes": list(authorization.granted_scopes),
            "provider_account_id": authorization.provider_account_id,
            "display_label": authorization.display_label,
            "extras": dict(authorization.extras),
        }
        if subject is not None:
            body["authorization"]["subject"] = subject
        template = deps.providers.get(view.connector.provider)
        credentials = auth_type_of(template).backend_credentials(
            auth_context(deps, view, authorization))
        if credentials is not None:
            body["authorization"]["credentials"] = credentials
    return body


async def context_connection_with_token(
    session: AsyncSession,
    deps: TokenDeps,
    platform_id: str,
    external_id: str,
    connector_slug: str,
    *,
    force_refresh: bool = False,
    subject: str | None = None,
) -> dict[str, Any]:
    context = await _context(session, platform_id, external_id)
    connection_ids = list(
        (
            await session.scalars(
                select(Connection.id)
                .join(Connector, Connector.id == Connection.connector_id)
                .where(
                    Connection.context_id == context.id,
                    Connector.slug == connector_slug,
                    Connection.enabled.is_(True),
                )
            )
        ).all()
    )
    authorization_id = await healthiest_authorization(session, connection_ids)
    if authorization_id is None:
        raise NotFound(
            f"context {external_id!r} has no {connector_slug!r} connection",
            code="connection_not_found",
        )
    await session.commit()  # give the pooled connection back while a refresh may run
    authorization = await fresh_authorization(deps, authorization_id, force=force_refresh)
    view = await connections.get_connection(session, platform_id, authorization.connection_id)
    return await _with_subject(deps, view, authorization, subject)


async def connection_with_token(
    session: AsyncSession,
    deps: TokenDeps,
    platform_id: str,
    connection_id: str,
    *,
    force_refresh: bool = False,
    subject: str | None = None,
) -> dict[str, Any]:
    view = await connections.get_connection(session, platform_id, connection_id)
    if view.authorization is None:
        raise NotFound("this connection has no authorization yet", code="connection_not_found")
    await session.commit()  # give the pooled connection back while a refresh may run
    authorization = await fresh_authorization(deps, view.authorization.id, force=force_refresh)
    return await _with_subject(deps, view, authorization, subject)


async def _with_subject(deps: TokenDeps, view: ConnectionView, authorization: Authorization,
                        subject: str | None) -> dict[str, Any]:
    if subject is None:
        return describe(view, authorization, deps)
    tokens = await token_for_subject(deps, authorization.id, subject)
    return describe(view, authorization, deps, subject=subject, subject_tokens=tokens)


async def list_context_connections(
    session: AsyncSession, platform_id: str, external_id: str
) -> list[dict[str, Any]]:
    context = await _context(session, platform_id, external_id)
    return [describe(v, None) for v in await connections.list_context_connections(session, context)]


async def remove_connection(
    session: AsyncSession, deps: TokenDeps, platform_id: str, connection_id: str, *, actor: str
) -> dict[str, Any]:
    """Revoke at the provider when it can, then remove; removal never waits on revocation."""
    view = await connections.get_connection(session, platform_id, connection_id)
    revocation: dict[str, Any] = {"attempted": False}
    template = (
        deps.providers.get(view.connector.provider)
        if view.connector.provider in deps.providers
        else None
    )
    authorization = view.authorization
    if template is not None and authorization is not None and authorization.refresh_token:
        client = oauth_client(template, view.connector, deps.keyring,
                              effective_settings(deps.keyring, view.connector, authorization))
        if client.revoke_url:
            revocation = {"attempted": True, "succeeded": True}
            try:
                await client.revoke(
                    deps.http,
                    token=decrypt_from(deps.keyring, authorization, "refresh_token") or "",
                )
            except ProviderError as exc:
                revocation = {"attempted": True, "succeeded": False, "error": exc.code}
    await events.record_event(
        session,
        platform_id=platform_id,
        event_type=events.CONNECTION_DISABLED,
        payload=events.connection_payload(view, status="removed"),
    )
    await connections.delete_connection(session, view, actor=actor)
    return {"deleted": True, "revocation": revocation}


async def _context(session: AsyncSession, platform_id: str, external_id: str) -> Context:
    context = await session.scalar(
        select(Context).where(
            Context.platform_id == platform_id, Context.external_id == external_id
        )
    )
    if context is None:
        raise NotFound(f"no context with external_id {external_id!r}", code="context_not_found")
    return context
