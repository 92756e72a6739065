"""Connections as a developer's backend sees them: with a fresh access token when asked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit import metrics
from xkit.db.models import Authorization, Connection, Connector, Context
from xkit.db.types import utcnow
from xkit.errors import NotFound
from xkit.oauth import ProviderError, TokenSet
from xkit.services.auth_types import auth_type_of
from xkit.services.configuration.connectors import is_ready, template_of
from xkit.services.connect import extras
from xkit.services.connect.catalog import public_connection
from xkit.services.connect.flow import ACTIVE
from xkit.services.cursors import decode_cursor, encode_cursor
from xkit.services.tokens import connections
from xkit.services.tokens.authorization_values import decrypt_from, effective_settings
from xkit.services.tokens.connections import ConnectionView, current_authorizations
from xkit.services.tokens.provider_http import oauth_client
from xkit.services.tokens.records import GrantRecord, ShownConnection
from xkit.services.tokens.refresh import (
    TokenDeps,
    needs_refresh,
)


def describe(
    view: ShownConnection,
    authorization: GrantRecord | None,
    deps: TokenDeps | None = None,
    *,
    subject: str | None = None,
    subject_tokens: TokenSet | None = None,
) -> dict[str, Any]:
    """A connection with, when ``deps`` is given, its decrypted access token — or the token
    minted for ``subject`` — and, for API keys and passwords, the credentials themselves.

    It only reads, so it takes ORM rows and the token fetch's plain rows alike."""
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
            "extras": extras.for_backend(deps.keyring, authorization),
        }
        if subject is not None:
            body["authorization"]["subject"] = subject
        template = template_of(deps.providers, view.connector)
        credentials = auth_type_of(template).backend_credentials(
            deps.keyring, authorization) if template else None
        if credentials is not None:
            body["authorization"]["credentials"] = credentials
    return body


def is_fresh(authorization: GrantRecord, deps: TokenDeps, force_refresh: bool = False) -> bool:
    """Active, and valid for at least the guaranteed margin: handed out as it is."""
    return (
        authorization.status == ACTIVE
        and not force_refresh
        and not needs_refresh(authorization, deps)
    )


# One statement for a context's connections (was three: the context, its connections, their
# authorizations): the context outer-joined to its connections, their connectors and every
# authorization, so that a context without connections still answers (and none is a 404).
_CONTEXT_CONNECTIONS = (
    select(Context, Connection, Connector, Authorization)
    .outerjoin(Connection, and_(Connection.context_id == Context.id,
                                Connection.platform_id == Context.platform_id))
    .outerjoin(Connector, Connector.id == Connection.connector_id)
    .outerjoin(Authorization, Authorization.connection_id == Connection.id)
    .where(Context.platform_id == bindparam("platform_id"),
           Context.external_id == bindparam("external_id"))
    .order_by(Connector.name, Connection.created_at)
)


async def list_context_connections(
    session: AsyncSession, platform_id: str, external_id: str
) -> list[dict[str, Any]]:
    """A context's connections, without tokens, by connector name then age."""
    rows = (await session.execute(_CONTEXT_CONNECTIONS, {
        "platform_id": platform_id, "external_id": external_id})).all()
    if not rows:
        raise NotFound(f"no context with external_id {external_id!r}", code="context_not_found")
    context = rows[0][0]
    found: dict[str, tuple[Connection, Connector]] = {}
    grants: list[Authorization] = []
    for _, connection, connector, authorization in rows:
        if connection is not None and connector is not None:
            found.setdefault(connection.id, (connection, connector))
        if authorization is not None:
            grants.append(authorization)
    current = current_authorizations(grants)
    return [describe(ConnectionView(connection=connection, connector=connector, context=context,
                                    authorization=current.get(connection.id)), None)
            for connection, connector in found.values()]


#: What a status filter may read past in one request before it answers with a shorter page
#: (and a cursor to go on from): a rare status must not make one request scan everything.
STATUS_SCAN_BUDGET = 2_000


async def list_platform_connections(
    session: AsyncSession, platform_id: str, *, limit: int, cursor: str | None = None,
    connector: str | None = None, status: str | None = None, context: str | None = None,
) -> dict[str, Any]:
    """A page of the platform's connections (no credentials), filtered, with the cursor of the
    next page (None on the last). The status is worked out from each connection's current
    authorization, so a status filter reads connections in batches and keeps the matches; a
    page may then hold fewer than ``limit`` while ``next_cursor`` is still set."""
    after = decode_cursor(cursor)
    batch_size = limit + 1 if status is None else max(limit + 1, 200)
    found: list[dict[str, Any]] = []
    scanned = 0
    while True:
        views = await connections.platform_connections_after(
            session, platform_id, after=after, limit=batch_size, connector_slug=connector,
            context_external_id=context)
        consumed = 0
        for view in views:
            if len(found) == limit:
                break
            consumed += 1
            after = view.connection.id
            if status is None or view.status == status:
                found.append(describe(view, None))
        scanned += consumed
        exhausted = consumed == len(views) and len(views) < batch_size
        if exhausted:
            return {"connections": found, "next_cursor": None}
        if len(found) == limit or scanned >= STATUS_SCAN_BUDGET:
            return {"connections": found, "next_cursor": encode_cursor(after)}


async def remove_connection(
    session: AsyncSession, deps: TokenDeps, platform_id: str, connection_id: str, *, actor: str
) -> dict[str, Any]:
    """Revoke at the provider when it can, then remove; removal never waits on revocation.

    The one removal behind the Platform API, the browser API (xkit.js ``disconnect``) and the
    dashboard. Revocation needs the template and the app's credentials; without them (a
    template taken away, a client secret cleared) the connection is removed all the same."""
    view = await connections.get_connection(session, platform_id, connection_id)
    revocation: dict[str, Any] = {"attempted": False}
    template = template_of(deps.providers, view.connector)
    authorization = view.authorization
    if (
        template is not None
        and template.oauth2 is not None
        and is_ready(view.connector, template)
        and authorization is not None
        and authorization.refresh_token
    ):
        client = oauth_client(template, view.connector, deps.keyring,
                              effective_settings(deps.keyring, view.connector, authorization))
        if client.revoke_url:
            revocation = {"attempted": True, "succeeded": True}
            try:
                with metrics.provider_call(template.slug, "revoke"):
                    await client.revoke(
                        deps.http,
                        token=decrypt_from(deps.keyring, authorization, "refresh_token") or "",
                    )
            except ProviderError as exc:
                revocation = {"attempted": True, "succeeded": False, "error": exc.code}
    await connections.delete_connection(session, view, actor=actor)
    return {"deleted": True, "revocation": revocation}

