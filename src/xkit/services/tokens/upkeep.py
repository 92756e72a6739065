"""Token upkeep, done by the worker so that no API call has to wait and no grant lapses.

- **Refresh ahead**: access tokens of connections in use that expire within
  ``refresh_ahead`` are refreshed before a backend asks for one. "In use" means the backend
  fetched a token or proxied a call in the last :data:`IN_USE_WINDOW`, or the user connected
  within it: refreshing every idle connection every hour would spend the provider's rate
  limits on tokens nobody reads.
- **Keep-alive**: some providers let a refresh token lapse when it goes unused for a while
  (the template's ``refresh.idle_lapse_days``; Microsoft's lapse after 90 days). Once a grant
  has been idle for :data:`KEEP_ALIVE_AT` of that window it is refreshed, which renews it.

Both go through :func:`xkit.services.tokens.refresh.fresh_authorization`, the same exactly-once path
as the API, so a worker and a request (or two workers) never refresh one token twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select

from xkit.db.models import Authorization, Connection, Connector
from xkit.db.types import utcnow
from xkit.services.connect.flow import ACTIVE
from xkit.services.tokens.refresh import (
    ProviderRefused,
    ProviderUnavailable,
    ReconnectRequired,
    TokenDeps,
    fresh_authorization,
    needs_refresh,
)

log = logging.getLogger("xkit.upkeep")

IN_USE_WINDOW = dt.timedelta(hours=24)
KEEP_ALIVE_AT = 2 / 3
BATCH = 200
CONCURRENCY = 5


@dataclass
class UpkeepReport:
    refreshed_ahead: int = 0
    kept_alive: int = 0
    need_reconnect: int = 0
    provider_failures: int = 0


def keep_alive_after(idle_lapse_days: int) -> dt.timedelta:
    return dt.timedelta(days=idle_lapse_days) * KEEP_ALIVE_AT


async def refresh_ahead_candidates(deps: TokenDeps, refresh_ahead: dt.timedelta) -> list[str]:
    """Active grants in use whose access token expires within ``refresh_ahead``."""
    now = utcnow()
    in_use_since = now - IN_USE_WINDOW
    async with deps.sessions() as session:
        ids = await session.scalars(
            select(Authorization.id)
            .where(Authorization.status == ACTIVE,
                   Authorization.refresh_token.is_not(None),
                   Authorization.expires_at.is_not(None),
                   Authorization.expires_at < now + refresh_ahead,
                   or_(Authorization.last_used_at > in_use_since,
                       Authorization.created_at > in_use_since),
                   _not_being_refreshed(now))
            .order_by(Authorization.expires_at).limit(BATCH))
        return list(ids.all())


async def keep_alive_candidates(deps: TokenDeps) -> list[str]:
    """Active grants of providers with a lapse window, idle for most of it."""
    windows = {t.slug: t.refresh.idle_lapse_days for t in deps.providers.all()
               if t.refresh.idle_lapse_days}
    if not windows:
        return []
    now = utcnow()
    found: list[str] = []
    idle_since = func.coalesce(Authorization.last_refreshed_at, Authorization.created_at)
    async with deps.sessions() as session:
        for provider, days in sorted(windows.items()):
            cutoff = now - keep_alive_after(days)
            ids = await session.scalars(
                select(Authorization.id)
                .join(Connection, Connection.id == Authorization.connection_id)
                .join(Connector, Connector.id == Connection.connector_id)
                .where(Connector.provider == provider,
                       Authorization.status == ACTIVE,
                       Authorization.refresh_token.is_not(None),
                       _idle_before(cutoff),
                       _not_being_refreshed(now))
                .order_by(idle_since).limit(BATCH - len(found)))
            found.extend(ids.all())
            if len(found) >= BATCH:
                break
    return found


def _idle_before(cutoff: dt.datetime) -> ColumnElement[bool]:
    """Last refreshed (or, never refreshed, created) before ``cutoff`` — spelled so that
    ix_authorizations_status_refreshed answers it: as ``coalesce(...) < cutoff`` it read the
    whole table once per provider on every pass (a million connections: ~1 GB each time)."""
    return or_(Authorization.last_refreshed_at < cutoff,
               and_(Authorization.last_refreshed_at.is_(None),
                    Authorization.created_at < cutoff))


def _not_being_refreshed(now: dt.datetime) -> ColumnElement[bool]:
    return or_(Authorization.refresh_lease_until.is_(None),
               Authorization.refresh_lease_until < now)


async def run_upkeep(deps: TokenDeps, *, refresh_ahead: dt.timedelta,
                     stopping: asyncio.Event | None = None) -> UpkeepReport:
    """One pass: refresh what is about to expire, then exercise what is about to lapse."""
    report = UpkeepReport()
    ahead_deps = dataclasses.replace(deps, min_validity=max(refresh_ahead, deps.min_validity))
    limit = asyncio.Semaphore(CONCURRENCY)

    async def refresh(authorization_id: str, *, keep_alive: bool) -> None:
        async with limit:
            if stopping is not None and stopping.is_set():
                return
            try:
                if keep_alive:
                    await _keep_alive(ahead_deps, authorization_id)
                    report.kept_alive += 1
                else:
                    await fresh_authorization(ahead_deps, authorization_id)
                    report.refreshed_ahead += 1
            except ReconnectRequired:
                report.need_reconnect += 1  # tokens.py recorded connection.error
            except (ProviderUnavailable, ProviderRefused) as exc:
                report.provider_failures += 1
                log.info("upkeep of authorization %s postponed: %s", authorization_id, exc)

    if refresh_ahead > dt.timedelta(0):
        ahead = await refresh_ahead_candidates(deps, ahead_deps.min_validity)
        await asyncio.gather(*(refresh(i, keep_alive=False) for i in ahead))
    idle = await keep_alive_candidates(deps)
    await asyncio.gather(*(refresh(i, keep_alive=True) for i in idle))
    if report.refreshed_ahead or report.kept_alive or report.need_reconnect:
        log.info("token upkeep: %d refreshed ahead of expiry, %d kept alive, %d need "
                 "reconnecting", report.refreshed_ahead, report.kept_alive,
                 report.need_reconnect)
    return report


async def _keep_alive(deps: TokenDeps, authorization_id: str) -> None:
    """Refresh an idle grant. Its access token has usually long expired, so the ordinary
    exactly-once check applies; when it has not (a long-lived access token), force it."""
    async with deps.sessions() as session:
        authorization = await session.get(Authorization, authorization_id)
        force = authorization is not None and not needs_refresh(authorization, deps)
    await fresh_authorization(deps, authorization_id, force=force)

