"""The token fetch: a backend's get-connection, by context and connector or by connection id.

Every API call a developer's backend makes to a provider starts with this fetch, so its cost
is the cost of xkit. One statement reads everything the answer depends on — the key, the
context, the connector, the context's connections to it and their grants — and
every outcome is decided from those rows: 401 for a key that is unknown, revoked or sent with
another publishable key; 404 for no such context or no such connection; the token as it is
when it is valid for the guaranteed margin; otherwise a refresh, through
:func:`xkit.services.tokens.refresh.fresh_authorization` (one refresh per expiry, across replicas).

The rows are read as plain frozen dataclasses, only the columns that are used, on a bare
pooled connection: what consumes them (:func:`describe`, the auth type's backend
credentials, the use ledger) is typed on the protocols of :mod:`xkit.services.tokens.records`,
which ORM rows satisfy too (a refresh hands back one).

The uses of the key and of the grant are noted in the runtime's
:class:`~xkit.services.tokens.use_ledger.UseLedger` (written a second later, with others), so the
common case only reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, select

from xkit import metrics
from xkit.crypto import fingerprint
from xkit.db.models import ApiKey, Authorization, Connection, Connector, Context
from xkit.errors import NotFound, Unauthorized
from xkit.services.configuration import api_keys
from xkit.services.tokens import connections
from xkit.services.tokens.backend_connections import describe, is_fresh
from xkit.services.tokens.connections import current_authorizations
from xkit.services.tokens.records import GrantRecord, ShownConnection, connection_status
from xkit.services.tokens.refresh import (
    AuthorizationGone,
    ProviderRefused,
    ProviderUnavailable,
    ReconnectRequired,
    TokenDeps,
    fresh_authorization,
    healthiest,
    record_use,
    token_for_subject,
)


@dataclass(frozen=True)
class ByConnector:
    """``GET /contexts/{external_id}/connections/{connector_slug}``: the healthiest one."""

    external_id: str
    connector_slug: str


@dataclass(frozen=True)
class ById:
    """``GET /connections/{connection_id}``."""

    connection_id: str


Target = ByConnector | ById


# The fetch's rows, as plain objects: the columns an answer or a decision reads, no more.
# Building ORM instances (identity map, instance state, every column of five tables, six
# JSON columns decoded) cost more than the statement that read them.

@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    publishable_key: str
    secret_hash: str
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ContextRow:
    id: str
    external_id: str


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    id: str
    enabled: bool
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ConnectorRow:
    id: str
    slug: str
    name: str
    provider: str


@dataclass(frozen=True, slots=True)
class GrantRow:
    id: str
    connection_id: str
    status: str
    error_code: str | None
    error_message: str | None
    display_label: str | None
    provider_account_id: str | None
    granted_scopes: list[str]
    access_token: str | None
    token_type: str | None
    expires_at: dt.datetime | None
    last_refreshed_at: dt.datetime | None  # when the token was issued: its lifetime
    extras: dict[str, Any]
    collected: str | None
    last_used_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class FetchedView:
    """A connection as the fetch read it: what :func:`describe` shows."""

    connection: ConnectionRow
    connector: ConnectorRow
    context: ContextRow
    authorization: GrantRow | None

    @property
    def status(self) -> str:
        return connection_status(self.connection, self.authorization)


@dataclass(frozen=True, slots=True)
class Fetched:
    """One row of the statement: the key, and what the outer joins found (None: nothing)."""

    key: KeyRow
    context: ContextRow | None
    connection: ConnectionRow | None
    connector: ConnectorRow | None
    grant: GrantRow | None


# Each plain row's columns, named by its fields: the statement selects exactly these, in order.
_SHAPES: tuple[tuple[type[Any], type[Any]], ...] = (
    (KeyRow, ApiKey), (ContextRow, Context), (ConnectionRow, Connection),
    (ConnectorRow, Connector), (GrantRow, Authorization))
_COLUMNS: list[ColumnElement[Any]] = [
    getattr(model, f.name) for shape, model in _SHAPES for f in fields(shape)]
_SPANS: list[tuple[type[Any], int, int]] = []
for _shape, _ in _SHAPES:
    _start = _SPANS[-1][2] if _SPANS else 0
    _SPANS.append((_shape, _start, _start + len(fields(_shape))))


def _fetched(row: Sequence[Any]) -> Fetched:
    """A row of the statement as plain objects; an outer join that found nothing is None."""
    parts: list[Any] = [None if row[start] is None else shape(*row[start:end])
                        for shape, start, end in _SPANS]
    return Fetched(*parts)


_BY_KEY: Select[Any] = select(*_COLUMNS).select_from(ApiKey)

# Built once: they run on every fetch. Outer joins, so that a missing context, connector or
# connection still returns the key's row and the answer can say which one is missing.
_BY_CONNECTOR = (
    _BY_KEY
    .outerjoin(Context, and_(Context.platform_id == ApiKey.platform_id,
                             Context.external_id == bindparam("external_id")))
    .outerjoin(Connector, and_(Connector.platform_id == ApiKey.platform_id,
                               Connector.slug == bindparam("slug")))
    .outerjoin(Connection, and_(Connection.context_id == Context.id,
                                Connection.connector_id == Connector.id,
                                Connection.enabled.is_(True)))
    .outerjoin(Authorization, Authorization.connection_id == Connection.id)
    .where(ApiKey.secret_hash == bindparam("digest"))
)
_BY_ID = (
    _BY_KEY
    .outerjoin(Connection, and_(Connection.platform_id == ApiKey.platform_id,
                                Connection.id == bindparam("connection_id")))
    .outerjoin(Connector, Connector.id == Connection.connector_id)
    .outerjoin(Context, Context.id == Connection.context_id)
    .outerjoin(Authorization, Authorization.connection_id == Connection.id)
    .where(ApiKey.secret_hash == bindparam("digest"))
)


async def fetch_token(
    deps: TokenDeps,
    target: Target,
    *,
    secret: str,
    publishable_key: str | None = None,
    force_refresh: bool = False,
    subject: str | None = None,
) -> dict[str, Any]:
    """The connection with a fresh access token (or one minted for ``subject``); counted in
    ``xkit_token_fetches_total`` by outcome."""
    counted = metrics.get().fetch
    try:
        answer, outcome = await _fetch(deps, target, secret, publishable_key, force_refresh,
                                       subject)
    except ReconnectRequired:
        counted["reconnect_required"].inc()
        raise
    except (ProviderUnavailable, ProviderRefused, NotFound, Unauthorized) as exc:
        counted[next(name for kind, name in _FAILURES.items() if isinstance(exc, kind))].inc()
        raise
    except Exception:
        counted["error"].inc()
        raise
    counted[outcome].inc()
    return answer


_FAILURES: dict[type[BaseException], str] = {
    ProviderUnavailable: "provider_unavailable", ProviderRefused: "provider_refused",
    NotFound: "not_found", Unauthorized: "unauthorized"}


async def _fetch(deps: TokenDeps, target: Target, secret: str, publishable_key: str | None,
                 force_refresh: bool, subject: str | None) -> tuple[dict[str, Any], str]:
    refused = Unauthorized("invalid or revoked API key", code="invalid_api_key")
    if not secret.startswith(api_keys.SECRET_PREFIX):
        raise refused
    digest = fingerprint(secret)
    for last_try in (False, True):
        rows = await _rows(deps, target, digest)
        if not rows or not api_keys.accepts(rows[0].key, digest, publishable_key):
            raise refused
        if not last_try:
            api_keys.record_use(deps.uses, rows[0].key)
        view: ShownConnection
        view, chosen = _decide(target, rows)
        if is_fresh(chosen, deps, force_refresh):
            record_use(deps.uses, chosen)
            return await _answer(deps, view, chosen, subject), "fresh"
        try:
            authorization = await fresh_authorization(deps, chosen.id, force=force_refresh)
        except AuthorizationGone:
            if last_try:
                raise
            continue  # reconnected or removed meanwhile: look again
        record_use(deps.uses, authorization)
        if isinstance(target, ByConnector):  # its view as it is now, after the refresh
            async with deps.sessions() as session:
                view = await connections.get_connection(
                    session, authorization.platform_id, authorization.connection_id)
        return await _answer(deps, view, authorization, subject), "refreshed"
    raise AssertionError("unreachable")


async def _rows(deps: TokenDeps, target: Target, digest: str) -> list[Fetched]:
    """The one statement, on a bare pooled connection (no ORM session): the connection goes
    back to the pool before any decrypting."""
    if isinstance(target, ById):
        statement, params = _BY_ID, {"digest": digest, "connection_id": target.connection_id}
    else:
        statement, params = _BY_CONNECTOR, {"digest": digest, "external_id": target.external_id,
                                            "slug": target.connector_slug}
    if deps.reads is None:
        async with deps.sessions() as session:
            found = (await session.execute(statement, params)).all()
    else:
        async with deps.reads.connect() as connection:
            found = (await connection.execute(statement, params)).all()
    return [_fetched(row) for row in found]


def _decide(target: Target, rows: Sequence[Fetched]) -> tuple[FetchedView, GrantRow]:
    """The connection and the grant to answer with, or the 404 that says what is missing."""
    if isinstance(target, ByConnector) and rows[0].context is None:
        raise NotFound(f"no context with external_id {target.external_id!r}",
                       code="context_not_found")
    grants = [row.grant for row in rows if row.grant is not None]
    if isinstance(target, ById):
        if rows[0].connection is None:
            raise NotFound(f"no connection {target.connection_id!r}",
                           code="connection_not_found")
        chosen = current_authorizations(grants).get(target.connection_id)
        if chosen is None:
            raise NotFound("this connection has no authorization yet",
                           code="connection_not_found")
    else:
        found = healthiest(grants)
        if found is None:
            raise NotFound(f"context {target.external_id!r} has no "
                           f"{target.connector_slug!r} connection", code="connection_not_found")
        chosen = found
    row = next(r for r in rows if r.grant is chosen)
    context, connection, connector = row.context, row.connection, row.connector
    assert context is not None and connection is not None and connector is not None
    current = current_authorizations(g for g in grants if g.connection_id == connection.id)
    return FetchedView(connection=connection, connector=connector, context=context,
                       authorization=current.get(connection.id)), chosen


async def _answer(deps: TokenDeps, view: ShownConnection, authorization: GrantRecord,
                  subject: str | None) -> dict[str, Any]:
    """``describe``, with a token acting as ``subject`` when the backend names one."""
    if subject is None:
        return describe(view, authorization, deps)
    tokens = await token_for_subject(deps, authorization.id, subject)
    return describe(view, authorization, deps, subject=subject, subject_tokens=tokens)
