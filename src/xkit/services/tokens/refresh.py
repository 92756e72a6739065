"""Fresh access tokens, with exactly one refresh per expiry across every process and replica.

Providers rotate refresh tokens, and some revoke the whole grant when a used one comes back, so
two replicas refreshing the same authorization at once can break a user's connection. The
database arbitrates: a refresh starts only by winning a conditional UPDATE that takes a lease on
the row *and* re-checks that the token still needs refreshing. Everyone else waits for the
lease to go and reads the winner's result. No memory is shared between requests.

A replica can die while it holds a lease, so the lease is short (:data:`LEASE_SECONDS`) and its
holder renews it from a heartbeat while the provider answers: a dead holder's lease lapses in
seconds and a waiter takes over. What a death inside the round trip can still cost is named:
``refresh_sent_at`` is set when the refresh token goes out and cleared when the answer is
committed, so a refresh refused right after an interrupted one ends as ``refresh_interrupted``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from xkit import metrics
from xkit.crypto import Keyring
from xkit.db.models import Authorization
from xkit.db.results import rows_matched
from xkit.db.types import utcnow
from xkit.errors import XkitError
from xkit.oauth import ProviderError, TokenSet
from xkit.oauth.errors import ADDRESS_REFUSED
from xkit.providers.registry import ProviderRegistry
from xkit.services.auth_types import AuthContext, CannotRenew, auth_type_of
from xkit.services.connect import extras
from xkit.services.connect.flow import ACTIVE, ERROR, store_tokens
from xkit.services.tokens.authorization_values import effective_settings
from xkit.services.tokens.connections import ConnectionView, get_connection
from xkit.services.tokens.in_flight import InFlight
from xkit.services.tokens.records import GrantRecord
from xkit.services.tokens.use_ledger import UseLedger
from xkit.services.webhooks import events

log = logging.getLogger("xkit.tokens")
G = TypeVar("G", bound=GrantRecord)

# A refresh lease lasts this long unless its holder renews it; the holder renews it
# every LEASE_SECONDS / HEARTBEATS_PER_LEASE while the provider answers. A holder that died
# stops renewing, and its lease lapses within this long.
LEASE_SECONDS = 5.0
HEARTBEATS_PER_LEASE = 4
# Waiters poll with short, growing pauses: they pick up the winner's token within a quarter
# of a second of its commit, and stay light on the database when a provider is slow.
WAIT_POLL_SECONDS = 0.05
WAIT_POLL_MAX_SECONDS = 0.25
REFUSED_MESSAGE = "The provider refused to renew access: the user must reconnect."
# Refused with invalid_grant right after an attempt whose answer was never stored.
REFRESH_INTERRUPTED = "refresh_interrupted"
REFRESH_INTERRUPTED_MESSAGE = (
    "An earlier renewal of this connection's access was cut off before its answer was saved "
    "(a server stopped mid-way), and the provider has since refused the old refresh token: "
    "the user must reconnect."
)
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER_SECONDS = 5.0
# last_used_at tells the worker which connections to refresh ahead of expiry; minutes suffice.
USE_GRANULARITY = dt.timedelta(minutes=5)
# After the provider kept failing, nobody tries again for this long (or its Retry-After):
# requests that arrive meanwhile answer 503 at once instead of each hammering the provider.
COOLDOWN_SECONDS = 2.0
MAX_COOLDOWN_SECONDS = 60.0
COOLDOWN_OWNER = "cooldown"


class ReconnectRequired(XkitError):
    status_code = 409
    code = "reconnect_required"


class AuthorizationGone(ReconnectRequired):
    """The authorization was deleted (connection removed, or replaced by a reconnect) while a
    request was using it; the caller may look the connection up again."""


class ProviderUnavailable(XkitError):
    status_code = 503
    code = "provider_unavailable"


class SubjectRefused(XkitError):
    """The provider would not let the app act as that user; the connection itself is fine."""

    status_code = 403
    code = "subject_refused"


class ProviderRefused(XkitError):
    """The provider refused the app itself (e.g. an expired client secret): the user's grant
    is fine and reconnecting would not help, so the connection is not marked broken."""

    status_code = 502
    code = "provider_refused"


@dataclass(frozen=True)
class TokenDeps:
    sessions: async_sessionmaker[AsyncSession]
    providers: ProviderRegistry
    keyring: Keyring
    http: httpx.AsyncClient
    uses: UseLedger
    min_validity: dt.timedelta
    # The margin is at most this share of a token's own lifetime (see refresh_margin).
    min_validity_share: float = 0.5
    # How long one call to the provider may take.
    provider_timeout: dt.timedelta = dt.timedelta(seconds=15)
    # Renewed by its holder's heartbeat: it only has to outlast a missed beat or two.
    lease: dt.timedelta = dt.timedelta(seconds=LEASE_SECONDS)
    # Refreshes run to their end even when the request that started one is cancelled.
    in_flight: InFlight = field(default_factory=InFlight)
    # The engine for reads that need no transaction (the token fetch's one statement, on a
    # bare connection): on PostgreSQL in autocommit, on the same pool, saving BEGIN and
    # ROLLBACK. None: the fetch reads through ``sessions``.
    reads: AsyncEngine | None = None

    @property
    def wait_limit(self) -> dt.timedelta:
        """How long a request waits for another process's refresh: one provider call, plus a
        lease for a dead holder's to lapse. A healthy holder answers within the first part."""
        return self.provider_timeout + self.lease


def refresh_margin(authorization: GrantRecord, deps: TokenDeps) -> dt.timedelta:
    """How long before expiry this grant's access token is renewed: ``deps.min_validity``,
    but never more than ``deps.min_validity_share`` of the token's own lifetime (it was
    issued at ``last_refreshed_at``, which storing a token sets). A provider whose tokens live
    30 seconds would otherwise have every fetch renew under a 300-second margin; with the
    default share of a half, a token is reused for its first half and renewed once in its
    second."""
    expires, issued = authorization.expires_at, authorization.last_refreshed_at
    if expires is None or issued is None or expires <= issued:
        return deps.min_validity
    return min(deps.min_validity, (expires - issued) * deps.min_validity_share)


def needs_refresh(authorization: GrantRecord, deps: TokenDeps) -> bool:
    return (
        authorization.expires_at is not None
        and authorization.expires_at < utcnow() + refresh_margin(authorization, deps)
    )


async def fresh_authorization(
    deps: TokenDeps,
    authorization_id: str,
    *,
    force: bool = False,
    rejected: Authorization | None = None,
) -> Authorization:
    """The authorization with an access token valid for at least ``min_validity``.

    ``force`` refreshes even a valid token; with ``rejected`` (the state whose token the
    provider just refused) only if nobody has refreshed since, so many requests that all saw
    a 401 cause one refresh, not one each.

    Raises :class:`ReconnectRequired` when the grant is gone, :class:`ProviderUnavailable`
    when the provider kept failing transiently (the connection stays active), and
    :class:`ProviderRefused` when it refused the app's own credentials.
    """
    owner = secrets.token_hex(8)
    async with deps.sessions() as session:
        authorization = await _load(session, authorization_id)
        if not force and not needs_refresh(authorization, deps):
            return authorization
        seen_refresh = authorization.last_refreshed_at
        if rejected is not None and rejected.last_refreshed_at != seen_refresh:
            return authorization  # refreshed since that token was refused
    deadline = utcnow() + deps.wait_limit
    pause = WAIT_POLL_SECONDS
    while True:
        async with deps.sessions() as session:
            authorization = await _load(session, authorization_id)
            await session.commit()  # waiters hold no transaction (nor pooled connection)
            if authorization.last_refreshed_at != seen_refresh or (
                not force and not needs_refresh(authorization, deps)
            ):
                return authorization  # someone else refreshed it: theirs is ours
            if _cooling_down(authorization):
                raise _unavailable(authorization)
            # Only now try to write: polling with reads keeps lock traffic low.
            if not _leased(authorization) and await _take_lease(
                session,
                authorization_id,
                owner,
                deps,
                force=force,
                refreshed_since=seen_refresh,
                margin=refresh_margin(authorization, deps),
            ):
                return await deps.in_flight.shielded(
                    _refresh_metered(deps, authorization_id, owner)
                )
        if utcnow() > deadline:  # the holder is alive, but its provider is slow to answer
            raise ProviderUnavailable(
                "the provider is slow to renew the token; the connection is fine, retry "
                "shortly",
                details={"retry_after": 1},
            )
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, WAIT_POLL_MAX_SECONDS)


def record_use(uses: UseLedger, authorization: GrantRecord) -> None:
    """Note that a backend used this grant (the worker refreshes such grants ahead of
    expiry); at most once every few minutes, and written a second later with others."""
    uses.note_unless_recent(Authorization.__table__, authorization.id,
                            authorization.last_used_at, USE_GRANULARITY)


def _leased(authorization: Authorization) -> bool:
    return (
        authorization.refresh_lease_until is not None
        and authorization.refresh_lease_until > utcnow()
    )


def _cooling_down(authorization: Authorization) -> bool:
    return _leased(authorization) and authorization.refresh_lease_owner == COOLDOWN_OWNER


def _unavailable(authorization: Authorization) -> ProviderUnavailable:
    assert authorization.refresh_lease_until is not None
    wait = max(1, math.ceil((authorization.refresh_lease_until - utcnow()).total_seconds()))
    return ProviderUnavailable(
        "the provider could not renew the token a moment ago; the connection is fine, "
        "retry shortly",
        details={"retry_after": wait},
    )


async def _load(session: AsyncSession, authorization_id: str) -> Authorization:
    authorization = await session.get(Authorization, authorization_id, populate_existing=True)
    if authorization is None:
        raise AuthorizationGone(
            "the connection's authorization is gone; the user must connect again"
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
    deps: TokenDeps,
    *,
    force: bool,
    refreshed_since: dt.datetime | None,
    margin: dt.timedelta,
) -> bool:
    """One conditional UPDATE: free (or expired) lease, still active, and still in need of a
    refresh — re-checked inside the UPDATE, so a refresh that committed a moment ago wins.
    ``margin`` is the token's own (:func:`refresh_margin`); a token stored since has a later
    expiry, which the re-check sees."""
    now = utcnow()
    if force:  # still needed = nobody refreshed since we looked
        still_needed = (
            Authorization.last_refreshed_at.is_(None)
            if refreshed_since is None
            else Authorization.last_refreshed_at == refreshed_since
        )
    else:
        still_needed = and_(
            Authorization.expires_at.is_not(None),
            Authorization.expires_at < now + margin,
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
        .values(refresh_lease_owner=owner, refresh_lease_until=now + deps.lease)
    )
    await session.commit()
    return rows_matched(result) == 1


async def _renew_lease(
    session: AsyncSession, authorization_id: str, owner: str, lease: dt.timedelta, *,
    sending: bool = False,
) -> bool:
    """Extend our lease (and, ``sending``, mark the refresh token as on its way); False means
    it lapsed and someone else holds it, so we must not send the refresh token (they may
    have already)."""
    now = utcnow()
    values: dict[str, object] = {"refresh_lease_until": now + lease}
    if sending:
        values["refresh_sent_at"] = now
    result = await session.execute(
        update(Authorization)
        .where(Authorization.id == authorization_id, Authorization.refresh_lease_owner == owner)
        .values(values)
    )
    await session.commit()
    return rows_matched(result) == 1


@contextlib.asynccontextmanager
async def _lease_kept(deps: TokenDeps, authorization_id: str, owner: str) -> AsyncIterator[None]:
    """Renew the lease from a heartbeat while the block runs (the provider is answering).

    The heartbeat is what makes a short lease safe for a live holder and fatal only to a
    dead one. It uses a session of its own: the holder's is idle meanwhile, but belongs to
    the holder's task."""
    stop = asyncio.Event()
    interval = deps.lease.total_seconds() / HEARTBEATS_PER_LEASE

    async def beat() -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
                return
            try:
                async with deps.sessions() as session:
                    if not await _renew_lease(session, authorization_id, owner, deps.lease):
                        return  # lost: the attempt under way finds out when it stores
            except Exception as exc:  # a database hiccup: the next beat tries again
                log.warning("could not renew the refresh lease of authorization %s (%s)",
                            authorization_id, type(exc).__name__)

    heartbeat = asyncio.create_task(beat())
    try:
        yield
    finally:
        stop.set()
        await heartbeat


# How a refresh that ended in an exception is counted (xkit_token_refresh_duration_seconds).
_REFRESH_OUTCOMES: dict[type[BaseException], str] = {
    AuthorizationGone: "gone", ReconnectRequired: "reconnect_required",
    ProviderUnavailable: "provider_unavailable", ProviderRefused: "provider_refused"}


async def _refresh_metered(deps: TokenDeps, authorization_id: str,
                           owner: str) -> Authorization:
    """The refresh, counted and timed by provider and outcome (a task of its own: the provider
    call it marks stays inside it)."""
    with metrics.refresh_timer(_REFRESH_OUTCOMES) as timed:
        return await _refresh_as_owner(deps, authorization_id, owner, timed)


async def _refresh_as_owner(deps: TokenDeps, authorization_id: str, owner: str,
                            timed: metrics.TimedRefresh | None = None) -> Authorization:
    async with deps.sessions() as session:
        authorization = await _load(session, authorization_id)
        view = await get_connection(session, authorization.platform_id, authorization.connection_id)
        ctx = auth_context(deps, view, authorization)
        template, kind = ctx.template, auth_type_of(ctx.template)
        if not kind.renewable:  # an API key or password: there is nothing to renew
            await _release(session, authorization_id, owner)
            return authorization
        await session.commit()  # hold no transaction open while the provider answers
        if timed is not None:
            timed.start(template.slug)  # what follows is a refresh at this provider
        # A refresh token may already have been used up: sent, and its answer never stored.
        maybe_used = authorization.refresh_sent_at is not None
        # The heartbeat renews the lease during each attempt and each pause between them.
        async with _lease_kept(deps, authorization_id, owner):
            last_error: ProviderError | None = None
            for attempt in range(MAX_ATTEMPTS):
                if not await _renew_lease(session, authorization_id, owner, deps.lease,
                                          sending=True):
                    raise ProviderUnavailable(
                        "the token is being refreshed elsewhere; retry shortly",
                        details={"retry_after": 1},
                    )
                sent = time.perf_counter()
                try:
                    tokens = await kind.renew(ctx)
                except CannotRenew as exc:
                    return await _finish_error(session, view, authorization, exc.code,
                                               exc.message)
                except ProviderError as exc:
                    last_error = exc
                    if exc.grant_revoked:
                        # Only a refresh token can be used up; a grant without one (client
                        # credentials, a service account) asked again, and was refused.
                        if (maybe_used and authorization.refresh_token is not None
                                and (exc.oauth_error or exc.code) == "invalid_grant"):
                            return await _finish_interrupted(session, view, authorization)
                        code, message = template.describe_error(
                            exc.oauth_error or exc.code, exc.description
                        )
                        return await _finish_error(
                            session,
                            view,
                            authorization,
                            code,
                            message or REFUSED_MESSAGE,
                        )
                    # No answer at all (a timeout): the provider may have used the token up.
                    # A refused address sent nothing.
                    if exc.code != ADDRESS_REFUSED:
                        maybe_used = maybe_used or exc.http_status is None
                    if not exc.transient:
                        await _release(session, authorization_id, owner,
                                       sent_mark_kept=maybe_used)
                        if exc.code == ADDRESS_REFUSED:  # the connector is at fault, not the user
                            raise ProviderRefused(exc.description, code=ADDRESS_REFUSED) from None
                        code, message = template.describe_error(
                            exc.oauth_error or exc.code, exc.description
                        )
                        raise ProviderRefused(
                            message
                            or f"the provider refused the connector's app ({code}): check the "
                            "connector's client ID and secret; the user's connection is fine",
                            details={"provider_error": code},
                        ) from None
                    if not _worth_retrying(exc, attempt):
                        break
                    await asyncio.sleep(_backoff(attempt, exc.retry_after))
                    continue
                # The answer is stored before anything else happens: until this commit, a death
                # of this process loses the rotated refresh token.
                answered = time.perf_counter()
                store_tokens(deps.keyring, authorization, tokens,
                             requested=authorization.requested_scopes)
                extras.refresh_from_token(deps.keyring, template, authorization, tokens)
                authorization.refresh_lease_owner = None
                authorization.refresh_lease_until = None
                authorization.refresh_sent_at = None
                await _commit_or_gone(session)
                stored = time.perf_counter()
                log.info("refreshed authorization %s (provider answered in %.1f ms, stored "
                         "%.1f ms later)", authorization.id, (answered - sent) * 1000,
                         (stored - answered) * 1000)
                return authorization
            retry_after = _cooldown(last_error)
            await _start_cooldown(session, authorization_id, owner, retry_after,
                                  sent_mark_kept=maybe_used)
            reason = last_error.code if last_error else "error"
            raise ProviderUnavailable(
                f"the provider could not renew the token ({reason}); the connection is fine, "
                "retry shortly",
                details={"retry_after": math.ceil(retry_after)},
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
        with metrics.provider_call(ctx.template.slug, "token"):
            return await auth_type_of(ctx.template).token_for_subject(ctx, subject)
    except ProviderError as exc:
        if exc.code == ADDRESS_REFUSED:  # nothing was sent; the connector is at fault
            raise ProviderRefused(exc.description, code=ADDRESS_REFUSED) from None
        if exc.transient:
            raise ProviderUnavailable(
                f"the provider could not issue a token ({exc.code}); retry shortly",
                details={"retry_after": math.ceil(exc.retry_after or COOLDOWN_SECONDS)},
            ) from None
        code, message = ctx.template.describe_error(exc.oauth_error or exc.code, exc.description)
        raise SubjectRefused(message or f"the provider refused a token for this subject ({code})",
                             details={"error_code": code}) from None


def _worth_retrying(exc: ProviderError, attempt: int) -> bool:
    """Another attempt now, or give up and cool down? Not when attempts are used up, and not
    when the provider asks for a longer pause than a request should wait.

    A request that timed out after it was sent may have rotated the refresh token at the
    provider; sending it again is the only way to learn, now or later, so retrying costs
    nothing more than a later request would."""
    if attempt + 1 >= MAX_ATTEMPTS:
        return False
    return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER_SECONDS


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER_SECONDS)
    doublings: int = 2**attempt
    return min(0.2 * doublings + secrets.randbelow(100) / 1000, MAX_RETRY_AFTER_SECONDS)


def _cooldown(error: ProviderError | None) -> float:
    wanted = error.retry_after if error and error.retry_after is not None else COOLDOWN_SECONDS
    return min(max(wanted, 1.0), MAX_COOLDOWN_SECONDS)


async def _commit_or_gone(session: AsyncSession) -> None:
    try:
        await session.commit()
    except StaleDataError:  # the row was deleted while the provider answered
        await session.rollback()
        raise AuthorizationGone(
            "the connection was removed or reconnected while its token was being renewed"
        ) from None


async def _start_cooldown(
    session: AsyncSession, authorization_id: str, owner: str, seconds: float, *,
    sent_mark_kept: bool,
) -> None:
    """Hand the lease to the cooldown; the sent mark stays when an attempt got no answer."""
    await _hand_over(session, authorization_id, owner, COOLDOWN_OWNER,
                     utcnow() + dt.timedelta(seconds=seconds), sent_mark_kept=sent_mark_kept)


async def _release(
    session: AsyncSession, authorization_id: str, owner: str, *, sent_mark_kept: bool = False
) -> None:
    await _hand_over(session, authorization_id, owner, None, None,
                     sent_mark_kept=sent_mark_kept)


async def _hand_over(
    session: AsyncSession, authorization_id: str, owner: str, new_owner: str | None,
    until: dt.datetime | None, *, sent_mark_kept: bool,
) -> None:
    """Pass the lease ``owner`` holds to ``new_owner`` (None: nobody), only if it still holds
    it, clearing the sent mark unless an attempt got no answer."""
    values: dict[str, object] = {"refresh_lease_owner": new_owner, "refresh_lease_until": until}
    if not sent_mark_kept:
        values["refresh_sent_at"] = None
    await session.execute(
        update(Authorization)
        .where(Authorization.id == authorization_id, Authorization.refresh_lease_owner == owner)
        .values(values)
    )
    await session.commit()


async def _finish_interrupted(
    session: AsyncSession, view: ConnectionView, authorization: Authorization
) -> Authorization:
    """The grant lost to an interrupted refresh: its own code, so an operator can tell it from
    a user revoking access, and counted in ``xkit_token_refresh_interrupted_total``."""
    metrics.get().refreshes_interrupted.labels(view.connector.provider).inc()
    log.warning("authorization %s lost its grant: %s (the previous refresh was sent at %s "
                "and its answer never stored)", authorization.id, REFRESH_INTERRUPTED,
                authorization.refresh_sent_at)
    return await _finish_error(session, view, authorization, REFRESH_INTERRUPTED,
                               REFRESH_INTERRUPTED_MESSAGE)


async def _finish_error(
    session: AsyncSession,
    view: ConnectionView,
    authorization: Authorization,
    code: str,
    message: str,
) -> Authorization:
    authorization.status = ERROR
    authorization.error_code = code[:200]
    authorization.error_message = message
    authorization.refresh_lease_owner = None
    authorization.refresh_lease_until = None
    authorization.refresh_sent_at = None
    await events.record_connection_event(
        session, view, events.CONNECTION_ERROR, status="error",
        error={"code": code, "message": message},
    )
    await _commit_or_gone(session)
    log.info("authorization %s needs reconnecting: %s", authorization.id, code)
    raise ReconnectRequired(message, details={"error_code": code})


def healthiest(authorizations: list[G]) -> G | None:
    """Among connections' authorizations, the newest active one, else the newest."""
    newest_first = sorted(authorizations, key=lambda a: a.created_at, reverse=True)
    active = [a for a in newest_first if a.status == ACTIVE]
    candidates = active or newest_first
    return candidates[0] if candidates else None
