"""Fresh access tokens, with exactly one refresh per expiry across every process and replica.

Providers rotate refresh tokens, and some revoke the whole grant when a used one comes back, so
two replicas refreshing the same authorization at once can break a user's connection. The
database arbitrates: a refresh starts only by winning a conditional UPDATE that takes a lease on
the row *and* re-checks that the token still needs refreshing. Everyone else waits for the
lease to go and reads the winner's result. No memory is shared between requests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from dataclasses import dataclass

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xkit.crypto import Keyring
from xkit.db.models import Authorization
from xkit.db.types import utcnow
from xkit.errors import XkitError
from xkit.oauth import ProviderError, TokenSet
from xkit.providers.registry import ProviderRegistry
from xkit.services import events
from xkit.services.auth_types import AuthContext, CannotRenew, auth_type_of
from xkit.services.authorization_values import effective_settings
from xkit.services.authorizations import ACTIVE, ERROR, store_tokens
from xkit.services.connections import ConnectionView, get_connection

log = logging.getLogger("xkit.tokens")

LEASE = dt.timedelta(seconds=60)
# Waiters poll with growing pauses: quick when a refresh is quick, and light on the database
# when many requests wait on a slow provider.
WAIT_POLL_SECONDS = 0.05
WAIT_POLL_MAX_SECONDS = 0.5
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER_SECONDS = 5.0


class ReconnectRequired(XkitError):
    status_code = 409
    code = "reconnect_required"


class ProviderUnavailable(XkitError):
    status_code = 503
    code = "provider_unavailable"


class SubjectRefused(XkitError):
    """The provider would not let the app act as that user; the connection itself is fine."""

    status_code = 403
    code = "subject_refused"


@dataclass(frozen=True)
class TokenDeps:
    sessions: async_sessionmaker[AsyncSession]
    providers: ProviderRegistry
    keyring: Keyring
    http: httpx.AsyncClient
    min_validity: dt.timedelta
    wait_limit: dt.timedelta = dt.timedelta(seconds=30)


def needs_refresh(authorization: Authorization, min_validity: dt.timedelta) -> bool:
    return (
        authorization.expires_at is not None and authorization.expires_at < utcnow() + min_validity
    )


async def fresh_authorization(
    deps: TokenDeps, authorization_id: str, *, force: bool = False
) -> Authorization:
    """The authorization with an access token valid for at least ``min_validity``.

    Raises :class:`ReconnectRequired` when the grant is gone and :class:`ProviderUnavailable`
    when the provider kept failing transiently (the connection stays active).
    """
    owner = secrets.token_hex(8)
    async with deps.sessions() as session:
        authorization = await _load(session, authorization_id)
        if not force and not needs_refresh(authorization, deps.min_validity):
            return authorization
        seen_refresh = authorization.last_refreshed_at
    deadline = utcnow() + deps.wait_limit
    pause = WAIT_POLL_SECONDS
    while True:
        async with deps.sessions() as session:
            authorization = await _load(session, authorization_id)
            await session.commit()  # waiters hold no transaction (nor pooled connection)
            if not _leased(authorization):
                if authorization.last_refreshed_at != seen_refresh or (
                    not force and not needs_refresh(authorization, deps.min_validity)
                ):
                    return authorization  # someone else refreshed it: theirs is ours
                # Only now try to write: polling with reads keeps lock traffic low.
                if await _take_lease(
                    session,
                    authorization_id,
                    owner,
                    deps.min_validity,
                    force=force,
                    refreshed_since=seen_refresh,
                ):
                    return await _refresh_as_owner(deps, authorization_id, owner)
        if utcnow() > deadline:
            raise ProviderUnavailable(
                "the token is being refreshed elsewhere and took too long; retry shortly",
                details={"retry_after": 1},
            )
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, WAIT_POLL_MAX_SECONDS)


def _leased(authorization: Authorization) -> bool:
    return (
        authorization.refresh_lease_until is not None
        and authorization.refresh_lease_until > utcnow()
    )


async def _load(session: AsyncSession, authorization_id: str) -> Authorization:
    authorization = await session.get(Authorization, authorization_id, populate_existing=True)
    if authorization is None:
        raise ReconnectRequired(
            "the connection's authorization is gone; the user must connect again",
            code="reconnect_required",
        )
    _raise_if_error(authorization)
    return authorization


def _raise_if_error(authorization: Authorization) -> None:
    if authorization.status == ERROR:
        raise ReconnectRequired(
            authorization.error_message or "the user must reconnect this connection",
            details={"error_code": authorization.error_code},
        )
    if authorization.status != ACTIVE:
        raise ReconnectRequired(
            "the connection is not connected yet", details={"status": authorization.status}
        )


async def _take_lease(
    session: AsyncSession,
    authorization_id: str,
    owner: str,
    min_validity: dt.timedelta,
    *,
    force: bool,
    refreshed_since: dt.datetime | None,
) -> bool:
    """One conditional UPDATE: free (or expired) lease, still active, and still in need of a
    refresh — re-checked inside the UPDATE, so a refresh that committed a moment ago wins."""
    now = utcnow()
    if force:  # still needed = nobody refreshed since we looked
        still_needed = (
            Authorization.last_refreshed_at.is_(None)
            if refreshed_since is None
            else Authorization.last_refreshed_at == refreshed_since
        )
    else:
        still_needed = and_(
            Authorization.expires_at.is_not(None), Authorization.expires_at < now + min_validity
        )
    result = await session.execute(
        update(Authorization)
        .where(
            Authorization.id == authorization_id,
            Authorization.status == ACTIVE,
            or_(
                Authorization.refresh_lease_until.is_(None), Authorization.refresh_lease_until < now
            ),
            still_needed,
        )
        .values(refresh_lease_owner=owner, refresh_lease_until=now + LEASE)
    )
    await session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


async def _refresh_as_owner(deps: TokenDeps, authorization_id: str, owner: str) -> Authorization:
    async with deps.sessions() as session:
        authorization = await _load(session, authorization_id)
        view = await get_connection(session, authorization.platform_id, authorization.connection_id)
        ctx = auth_context(deps, view, authorization)
        kind = auth_type_of(ctx.template)
        if not kind.renewable:  # an API key or password: there is nothing to renew
            await _release(session, authorization_id, owner)
            return authorization
        await session.commit()  # hold no transaction open while the provider answers
        last_error: ProviderError | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                tokens = await kind.renew(ctx)
            except CannotRenew as exc:
                return await _finish_error(session, view, authorization, owner, exc.code,
                                           exc.message)
            except ProviderError as exc:
                last_error = exc
                if not exc.transient:
                    code, message = ctx.template.describe_error(
                        exc.oauth_error or exc.code, exc.description
                    )
                    return await _finish_error(
                        session,
                        view,
                        authorization,
                        owner,
                        code,
                        message or "The provider refused to renew access: the user must reconnect.",
                    )
                if attempt + 1 < MAX_ATTEMPTS:
                    await asyncio.sleep(_backoff(attempt, exc.retry_after))
                continue
            store_tokens(
                deps.keyring, authorization, tokens, requested=authorization.requested_scopes
            )
            authorization.refresh_lease_owner = None
            authorization.refresh_lease_until = None
            await session.commit()
            log.info("refreshed authorization %s", authorization.id)
            return authorization
        await _release(session, authorization_id, owner)
        retry_after = last_error.retry_after if last_error and last_error.retry_after else 5
        reason = last_error.code if last_error else "error"
        raise ProviderUnavailable(
            f"the provider could not renew the token ({reason}); the connection is fine, "
            "retry shortly",
            details={"retry_after": retry_after},
        )


def auth_context(deps: TokenDeps, view: ConnectionView,
                 authorization: Authorization) -> AuthContext:
    """The authorization with its connector and template, as its auth type needs it."""
    template = deps.providers.get(view.connector.provider)
    return AuthContext(template=template, connector=view.connector, authorization=authorization,
                       settings=effective_settings(deps.keyring, view.connector, authorization),
                       keyring=deps.keyring, http=deps.http)


async def token_for_subject(deps: TokenDeps, authorization_id: str, subject: str) -> TokenSet:
    """A token acting as ``subject`` (a user of the domain, for service accounts with
    domain-wide delegation), minted for this request and not stored."""
    async with deps.sessions() as session:
        authorization = await _load(session, authorization_id)
        view = await get_connection(session, authorization.platform_id, authorization.connection_id)
        ctx = auth_context(deps, view, authorization)
        await session.commit()
    try:
        return await auth_type_of(ctx.template).token_for_subject(ctx, subject)
    except ProviderError as exc:
        if exc.transient:
            raise ProviderUnavailable(
                f"the provider could not issue a token ({exc.code}); retry shortly",
                details={"retry_after": exc.retry_after or 5}) from None
        code, message = ctx.template.describe_error(exc.oauth_error or exc.code, exc.description)
        raise SubjectRefused(message or f"the provider refused a token for this subject ({code})",
                             details={"error_code": code}) from None


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER_SECONDS)
    return min(0.2 * (2**attempt) + secrets.randbelow(100) / 1000, MAX_RETRY_AFTER_SECONDS)


async def _release(session: AsyncSession, authorization_id: str, owner: str) -> None:
    await session.execute(
        update(Authorization)
        .where(Authorization.id == authorization_id, Authorization.refresh_lease_owner == owner)
        .values(refresh_lease_owner=None, refresh_lease_until=None)
    )
    await session.commit()


async def _finish_error(
    session: AsyncSession,
    view: ConnectionView,
    authorization: Authorization,
    owner: str,
    code: str,
    message: str,
) -> Authorization:
    authorization.status = ERROR
    authorization.error_code = code[:200]
    authorization.error_message = message
    authorization.refresh_lease_owner = None
    authorization.refresh_lease_until = None
    await events.record_event(
        session,
        platform_id=authorization.platform_id,
        event_type=events.CONNECTION_ERROR,
        payload=events.connection_payload(
            view, status="error", error={"code": code, "message": message}
        ),
    )
    await session.commit()
    log.info("authorization %s needs reconnecting: %s", authorization.id, code)
    raise ReconnectRequired(message, details={"error_code": code})


async def healthiest_authorization(session: AsyncSession, connection_ids: list[str]) -> str | None:
    """Among connections' authorizations, an active one first, newest first."""
    if not connection_ids:
        return None
    rows = (
        await session.execute(
            select(Authorization.id, Authorization.status)
            .where(Authorization.connection_id.in_(connection_ids))
            .order_by(Authorization.created_at.desc())
        )
    ).all()
    for wanted in (ACTIVE,):
        for row_id, status in rows:
            if status == wanted:
                return str(row_id)
    return str(rows[0][0]) if rows else None
