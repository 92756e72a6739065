"""The token fetch: a backend's get-connection, by context and connector or by connection id.

Every API call a developer's backend makes to a provider starts with this fetch, so its cost
is the cost of xkit. One statement reads everything the answer depends on — the key and its
platform, the context, the connector, the context's connections to it and their grants — and
every outcome is decided from those rows: 401 for a key that is unknown, revoked or sent with
another publishable key; 404 for no such context or no such connection; the token as it is
when it is valid for the guaranteed margin; otherwise a refresh, through
:func:`xkit.services.tokens.refresh.fresh_authorization` (one refresh per expiry, across replicas).

The uses of the key and of the grant are noted in the runtime's
:class:`~xkit.services.tokens.use_ledger.UseLedger` (written a second later, with others), so the
common case only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import and_, bindparam, select

from xkit import metrics
from xkit.crypto import fingerprint
from xkit.db.models import ApiKey, Authorization, Connection, Connector, Context, Platform
from xkit.errors import NotFound, Unauthorized
from xkit.services.configuration import api_keys
from xkit.services.tokens import connections
from xkit.services.tokens.backend_connections import describe, is_fresh
from xkit.services.tokens.connections import ConnectionView, current_authorizations
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
Row = tuple[ApiKey, Platform, Context | None, Connection | None, Connector | None,
            Authorization | None]
_ENTITIES = (ApiKey, Platform, Context, Connection, Connector, Authorization)


_BY_KEY = select(*_ENTITIES).select_from(ApiKey).join(Platform, Platform.id == ApiKey.platform_id)


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
        if not rows or not api_keys.accepts(rows[0][0], digest, publishable_key):
            raise refused
        if not last_try:
            api_keys.record_use(deps.uses, rows[0][0])
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


async def _rows(deps: TokenDeps, target: Target, digest: str) -> Sequence[Row]:
    """The one statement; the connection goes back to the pool before any decrypting."""
    if isinstance(target, ById):
        statement, params = _BY_ID, {"digest": digest, "connection_id": target.connection_id}
    else:
        statement, params = _BY_CONNECTOR, {"digest": digest, "external_id": target.external_id,
                                            "slug": target.connector_slug}
    async with (deps.reads or deps.sessions)() as session:
        return cast(Sequence[Row], (await session.execute(statement, params)).all())


def _decide(target: Target, rows: Sequence[Row]) -> tuple[ConnectionView, Authorization]:
    """The connection and the grant to answer with, or the 404 that says what is missing."""
    if isinstance(target, ByConnector) and rows[0][2] is None:
        raise NotFound(f"no context with external_id {target.external_id!r}",
                       code="context_not_found")
    grants = [row[5] for row in rows if row[5] is not None]
    if isinstance(target, ById):
        if rows[0][3] is None:
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
    _, _, context, connection, connector, _ = next(r for r in rows if r[5] is chosen)
    assert context is not None and connection is not None and connector is not None
    current = current_authorizations(g for g in grants if g.connection_id == connection.id)
    return ConnectionView(connection=connection, connector=connector, context=context,
                          authorization=current.get(connection.id)), chosen


async def _answer(deps: TokenDeps, view: ConnectionView, authorization: Authorization,
                  subject: str | None) -> dict[str, Any]:
    """``describe``, with a token acting as ``subject`` when the backend names one."""
    if subject is None:
        return describe(view, authorization, deps)
    tokens = await token_for_subject(deps, authorization.id, subject)
    return describe(view, authorization, deps, subject=subject, subject_tokens=tokens)
