"""Connections: a context's use of a connector, and the authorization behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import Authorization, Connection, Connector, Context
from xkit.errors import NotFound
from xkit.services.admin import audit
from xkit.services.tokens.records import GrantRecord, connection_status
from xkit.services.webhooks import events

G = TypeVar("G", bound=GrantRecord)


@dataclass(frozen=True)
class ConnectionView:
    """A connection with what is needed to show it — never a credential."""

    connection: Connection
    connector: Connector
    context: Context
    authorization: Authorization | None

    @property
    def status(self) -> str:
        """``connected``, ``error``, ``pending`` (mid-flow), ``disabled`` or ``not_authorized``."""
        return connection_status(self.connection, self.authorization)


def _established(authorization: GrantRecord) -> bool:
    """Whether this authorization ever got tokens (it may have broken since)."""
    return authorization.status == "active" or authorization.access_token is not None


# Built once: the Platform API lists a context's connections on every catalog page load, and
# building a statement costs more CPU than the database spends answering it.
_CONNECTIONS_AUTHORIZATIONS = (
    select(Authorization)
    .where(Authorization.connection_id.in_(bindparam("ids", expanding=True)))
    .order_by(Authorization.created_at))
_CONTEXTS_CONNECTIONS = (
    select(Connection, Connector)
    .join(Connector, Connector.id == Connection.connector_id)
    .where(Connection.context_id == bindparam("context_id"),
           Connection.platform_id == bindparam("platform_id"))
    .order_by(Connector.name, Connection.created_at))


async def latest_authorizations(
    session: AsyncSession, connection_ids: list[str]
) -> dict[str, Authorization]:
    """The authorization that stands for each connection: the newest one that got tokens, or
    else the newest. A reconnect attempt that is still running, was cancelled or was refused
    (a different account) must not hide the credential the connection still works with."""
    if not connection_ids:
        return {}
    rows = await session.scalars(_CONNECTIONS_AUTHORIZATIONS, {"ids": connection_ids})
    return current_authorizations(rows.all())


def current_authorizations(authorizations: Iterable[G]) -> dict[str, G]:
    """:func:`latest_authorizations` over rows already loaded (ORM or plain), in any order."""
    current: dict[str, G] = {}
    for authorization in sorted(authorizations, key=lambda a: a.created_at):
        held = current.get(authorization.connection_id)
        if held is None or _established(authorization) or not _established(held):
            current[authorization.connection_id] = authorization
    return current


async def list_context_connections(session: AsyncSession, context: Context) -> list[ConnectionView]:
    rows = (await session.execute(_CONTEXTS_CONNECTIONS, {
        "context_id": context.id, "platform_id": context.platform_id})).all()
    authorizations = await latest_authorizations(session, [c.id for c, _ in rows])
    return [
        ConnectionView(
            connection=c, connector=k, context=context, authorization=authorizations.get(c.id)
        )
        for c, k in rows
    ]


async def get_connection(
    session: AsyncSession, platform_id: str, connection_id: str
) -> ConnectionView:
    row = (
        await session.execute(
            select(Connection, Connector, Context)
            .join(Connector, Connector.id == Connection.connector_id)
            .join(Context, Context.id == Connection.context_id)
            .where(Connection.id == connection_id, Connection.platform_id == platform_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no connection {connection_id!r}", code="connection_not_found")
    connection, connector, context = row
    authorization = (await latest_authorizations(session, [connection.id])).get(connection.id)
    return ConnectionView(
        connection=connection, connector=connector, context=context, authorization=authorization
    )


async def list_connector_connections(session: AsyncSession,
                                     connector: Connector) -> list[ConnectionView]:
    rows = (
        await session.execute(
            select(Connection, Context)
            .join(Context, Context.id == Connection.context_id)
            .where(Connection.connector_id == connector.id)
        )
    ).all()
    authorizations = await latest_authorizations(session, [c.id for c, _ in rows])
    return [
        ConnectionView(connection=c, connector=connector, context=x,
                       authorization=authorizations.get(c.id))
        for c, x in rows
    ]


async def announce_removal(session: AsyncSession, views: list[ConnectionView]) -> None:
    """``connection.disabled`` for connections about to go with their context or connector;
    the caller deletes and commits, so the events commit with the removal or not at all."""
    for view in views:
        await events.record_connection_event(session, view, events.CONNECTION_DISABLED,
                                             status="removed")


async def delete_connection(session: AsyncSession, view: ConnectionView, *, actor: str) -> None:
    """Remove a connection and its credentials, telling webhook subscribers."""
    await announce_removal(session, [view])
    audit.record(
        session,
        actor=actor,
        action="connection.deleted",
        platform_id=view.connection.platform_id,
        target_type="connection",
        target_id=view.connection.id,
        details={"connector": view.connector.slug, "context": view.context.external_id},
    )
    await session.delete(view.connection)
    await session.commit()


async def platform_connections_after(
    session: AsyncSession, platform_id: str, *, after: str | None, limit: int,
    connector_slug: str | None = None, context_external_id: str | None = None,
) -> list[ConnectionView]:
    """Up to ``limit`` of a platform's connections with an id above ``after``, by id: a
    stable order that a cursor (the last id seen) resumes exactly, whatever is added or
    removed meanwhile."""
    query = (
        select(Connection, Connector, Context)
        .join(Connector, Connector.id == Connection.connector_id)
        .join(Context, Context.id == Connection.context_id)
        .where(Connection.platform_id == platform_id)
    )
    if connector_slug is not None:
        query = query.where(Connector.slug == connector_slug)
    if context_external_id is not None:
        query = query.where(Context.external_id == context_external_id)
    if after is not None:
        query = query.where(Connection.id > after)
    rows = (await session.execute(query.order_by(Connection.id).limit(limit))).all()
    authorizations = await latest_authorizations(session, [c.id for c, _, _ in rows])
    return [
        ConnectionView(connection=c, connector=k, context=x,
                       authorization=authorizations.get(c.id))
        for c, k, x in rows
    ]
