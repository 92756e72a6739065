"""Connections as a developer's backend sees them: with a fresh access token when asked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Authorization, Connection, Connector, Context
from xkit.db.types import utcnow
from xkit.errors import NotFound
from xkit.oauth import ProviderError, TokenSet
from xkit.services import connections, extras
from xkit.services.auth_types import auth_type_of
from xkit.services.authorization_values import decrypt_from, effective_settings
from xkit.services.authorizations import ACTIVE
from xkit.services.catalog import public_connection
from xkit.services.connections import ConnectionView, current_authorizations
from xkit.services.connectors import is_ready, template_of
from xkit.services.provider_http import oauth_client
from xkit.services.tokens import (
    AuthorizationGone,
    TokenDeps,
    auth_context,
    fresh_authorization,
    healthiest,
    needs_refresh,
    record_use,
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
            "extras": extras.for_backend(deps.keyring, authorization),
        }
        if subject is not None:
            body["authorization"]["subject"] = subject
        template = template_of(deps.providers, view.connector)
        credentials = auth_type_of(template).backend_credentials(
            auth_context(deps, view, authorization)) if template else None
        if credentials is not None:
            body["authorization"]["credentials"] = credentials
    return body


async def _with_subject(deps: TokenDeps, view: ConnectionView, authorization: Authorization,
                        subject: str | None) -> dict[str, Any]:
    """``describe``, with a token acting as ``subject`` when the backend names one."""
    if subject is None:
        return describe(view, authorization, deps)
    tokens = await token_for_subject(deps, authorization.id, subject)
    return describe(view, authorization, deps, subject=subject, subject_tokens=tokens)


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
    """The context's healthiest connection to the connector, with a fresh access token.

    This is the call on every backend's hot path, so the common case — an active token that
    needs no refresh — is answered from one query; only a refresh takes the slower road
    through :func:`fresh_authorization` (and its own sessions)."""
    for last_try in (False, True):
        view, chosen = await _healthiest(session, platform_id, external_id, connector_slug)
        if is_fresh(chosen, deps, force_refresh):
            record_use(deps.uses, chosen)
            return await _with_subject(deps, view, chosen, subject)
        await session.commit()  # give the pooled connection back while a refresh may run
        try:
            authorization = await fresh_authorization(deps, chosen.id, force=force_refresh)
        except AuthorizationGone:
            if last_try:
                raise
            continue  # reconnected or removed meanwhile: look again
        record_use(deps.uses, authorization)
        view = await connections.get_connection(session, platform_id, authorization.connection_id)
        return await _with_subject(deps, view, authorization, subject)
    raise AssertionError("unreachable")


async def connection_with_token(
    session: AsyncSession,
    deps: TokenDeps,
    platform_id: str,
    connection_id: str,
    *,
    force_refresh: bool = False,
    subject: str | None = None,
) -> dict[str, Any]:
    for last_try in (False, True):
        view = await connections.get_connection(session, platform_id, connection_id)
        if view.authorization is None:
            raise NotFound("this connection has no authorization yet", code="connection_not_found")
        if is_fresh(view.authorization, deps, force_refresh):  # no second session needed
            record_use(deps.uses, view.authorization)
            return await _with_subject(deps, view, view.authorization, subject)
        await session.commit()  # give the pooled connection back while a refresh may run
        try:
            authorization = await fresh_authorization(
                deps, view.authorization.id, force=force_refresh
            )
        except AuthorizationGone:
            if last_try:
                raise
            continue  # reconnected meanwhile: its new authorization is the one to use
        record_use(deps.uses, authorization)
        return await _with_subject(deps, view, authorization, subject)
    raise AssertionError("unreachable")


def is_fresh(authorization: Authorization, deps: TokenDeps, force_refresh: bool = False) -> bool:
    """Active, and valid for at least the guaranteed margin: handed out as it is."""
    return (
        authorization.status == ACTIVE
        and not force_refresh
        and not needs_refresh(authorization, deps.min_validity)
    )


# Built once (it runs on every token fetch); see api_keys._BY_SECRET_HASH.
_CONTEXT_CONNECTIONS = (
    select(Context, Connection, Connector, Authorization)
    .select_from(Context)
    .outerjoin(
        Connection,
        and_(
            Connection.context_id == Context.id,
            Connection.enabled.is_(True),
            Connection.connector_id.in_(
                select(Connector.id).where(
                    Connector.platform_id == bindparam("platform_id"),
                    Connector.slug == bindparam("slug"),
                )
            ),
        ),
    )
    .outerjoin(Connector, Connector.id == Connection.connector_id)
    .outerjoin(Authorization, Authorization.connection_id == Connection.id)
    .where(Context.platform_id == bindparam("platform_id"),
           Context.external_id == bindparam("external_id"))
    .execution_options(populate_existing=True)
)


async def _healthiest(
    session: AsyncSession, platform_id: str, external_id: str, connector_slug: str
) -> tuple[ConnectionView, Authorization]:
    """One query for the context, its connections to the connector and their authorizations;
    the healthiest authorization with the view of its connection."""
    rows: list[Any] = list((
        await session.execute(
            _CONTEXT_CONNECTIONS,
            {"platform_id": platform_id, "external_id": external_id, "slug": connector_slug},
        )
    ).tuples())
    if not rows:
        raise NotFound(f"no context with external_id {external_id!r}", code="context_not_found")
    found = choose(rows)
    if found is None:
        raise NotFound(
            f"context {external_id!r} has no {connector_slug!r} connection",
            code="connection_not_found",
        )
    return found


ContextRow = tuple[Context, Connection | None, Connector | None, Authorization | None]


def choose(rows: Sequence[ContextRow]) -> tuple[ConnectionView, Authorization] | None:
    """The healthiest authorization among a context's connections to one connector, with the
    view of its connection; None when there is none."""
    found = [row[3] for row in rows if row[3] is not None]
    chosen = healthiest(found)
    if chosen is None:
        return None
    context, connection, connector, _ = next(r for r in rows if r[3] is chosen)
    assert connection is not None and connector is not None
    current = current_authorizations(a for a in found if a.connection_id == chosen.connection_id)
    view = ConnectionView(connection=connection, connector=connector, context=context,
                          authorization=current.get(chosen.connection_id))
    return view, chosen


async def list_context_connections(
    session: AsyncSession, platform_id: str, external_id: str
) -> list[dict[str, Any]]:
    context = await _context(session, platform_id, external_id)
    return [describe(v, None) for v in await connections.list_context_connections(session, context)]


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
                await client.revoke(
                    deps.http,
                    token=decrypt_from(deps.keyring, authorization, "refresh_token") or "",
                )
            except ProviderError as exc:
                revocation = {"attempted": True, "succeeded": False, "error": exc.code}
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
