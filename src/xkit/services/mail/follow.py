"""New-mail events: following mailboxes and recording what arrives into the webhook outbox.

A followed mailbox is a ``mail_follows`` row. The worker leases due rows (the webhook
outbox's kind of lease: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE on
SQLite; a dead worker's lease lapses), asks the provider's follower what changed since the
saved cursor, and commits the new cursor together with the events, in one transaction: a
worker killed mid-sync leaves the old cursor and no events, and the next sync sees the same
changes again. ``mail_announced`` remembers which messages were announced, for
``XKIT_MAIL_ANNOUNCED_DAYS``: a resync after an expired cursor lists a time window again,
and skips what it already announced. Push notifications can later call :func:`wake`.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xkit.db.models import MailAnnounced, MailFollow
from xkit.db.results import rows_matched
from xkit.db.types import utcnow
from xkit.errors import Conflict, InvalidInput, XkitError
from xkit.services.admin import audit
from xkit.services.mail import gmail_changes, graph_changes, mail_api_of
from xkit.services.mail.calls import Mailbox, MailThrottled
from xkit.services.mail.changes import Changes, CursorExpired, Follower
from xkit.services.tokens import connections
from xkit.services.tokens.connections import ConnectionView
from xkit.services.tokens.refresh import TokenDeps
from xkit.services.webhooks.events import MAIL_DELETED, MAIL_RECEIVED, record_event

log = logging.getLogger("xkit.mail")

# Each follower module is a Follower (mypy does not take a module for a protocol here).
FOLLOWERS: dict[str, Follower] = {"microsoft-graph": cast(Follower, graph_changes),
                                  "gmail": cast(Follower, gmail_changes)}
MAX_FOLDERS = 10
# The first sync lists mail received since the mailbox was followed, less this: a provider's
# clock a little behind ours must not hide a message that arrived just after.
FIRST_SYNC_SKEW = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class SyncPolicy:
    poll: dt.timedelta
    poll_max: dt.timedelta
    lease: dt.timedelta
    resync_margin: dt.timedelta
    announced_for: dt.timedelta


@dataclass(frozen=True)
class Outcome:
    """What one sync came to, for logs and the bench."""

    received: int = 0
    deleted: int = 0
    error: str | None = None


# -- turning events on and off ------------------------------------------------------------------

def _follower(deps: TokenDeps, view: ConnectionView) -> Follower:
    api = mail_api_of(deps, view)
    if api is None or api not in FOLLOWERS:
        raise Conflict(f"{view.connector.name} connections have no mailbox xkit can follow; "
                       "mail events serve Outlook Email and Gmail connectors",
                       code="mail_unsupported")
    return FOLLOWERS[api]


def describe(follow: MailFollow | None) -> dict[str, Any]:
    if follow is None:
        return {"enabled": False, "folders": [], "synced_at": None, "next_poll_at": None,
                "last_error": None}
    return {"enabled": True, "folders": list(follow.folders), "synced_at": follow.synced_at,
            "next_poll_at": follow.next_poll_at, "last_error": follow.last_error}


async def status(session: AsyncSession, platform_id: str, connection_id: str) -> dict[str, Any]:
    await connections.get_connection(session, platform_id, connection_id)  # 404 if not ours
    return describe(await session.get(MailFollow, connection_id))


def supports_events(deps: TokenDeps, view: ConnectionView) -> bool:
    return mail_api_of(deps, view) in FOLLOWERS


async def follows(session: AsyncSession, connection_ids: list[str]) -> dict[str, MailFollow]:
    """The followed ones among ``connection_ids`` (the dashboard's context page)."""
    found = await session.scalars(select(MailFollow).where(
        MailFollow.connection_id.in_(connection_ids)))
    return {f.connection_id: f for f in found.all()}


async def enable(session: AsyncSession, deps: TokenDeps, platform_id: str, connection_id: str,
                 folders: list[str] | None, *, actor: str) -> dict[str, Any]:
    """Follow the connection's mailbox from now on (no backfill), and commit. Enabling again
    changes the folders: new ones are followed from now."""
    view = await connections.get_connection(session, platform_id, connection_id)
    follower = _follower(deps, view)
    wanted = [f.strip() for f in (folders or follower.DEFAULT_FOLDERS) if f.strip()]
    if not wanted or len(wanted) > MAX_FOLDERS or any(len(f) > 500 for f in wanted):
        raise InvalidInput(f"folders: 1 to {MAX_FOLDERS} folder or label ids",
                           details={"field": "folders"})
    wanted = list(dict.fromkeys(wanted))
    follow = await session.get(MailFollow, connection_id)
    now = utcnow()
    if follow is None:
        follow = MailFollow(connection_id=connection_id, platform_id=platform_id,
                            folders=wanted, cursors={}, next_poll_at=now, idle_polls=0,
                            created_at=now)
        session.add(follow)
    elif follow.folders != wanted:
        follow.folders = wanted
        follow.cursors = {}  # new folders start from now: the window below covers them
        follow.synced_at = now
        follow.next_poll_at = now
    await session.flush()
    state = describe(follow)
    audit.record(session, actor=actor, action="mail_events.enabled", platform_id=platform_id,
                 target_type="connection", target_id=connection_id,
                 details={"folders": state["folders"]})
    await session.commit()
    return state


async def disable(session: AsyncSession, platform_id: str, connection_id: str, *,
                  actor: str) -> None:
    """Stop following the mailbox and forget what was announced; commits."""
    await connections.get_connection(session, platform_id, connection_id)
    await session.execute(delete(MailFollow).where(MailFollow.connection_id == connection_id))
    await session.execute(delete(MailAnnounced)
                          .where(MailAnnounced.connection_id == connection_id))
    audit.record(session, actor=actor, action="mail_events.disabled", platform_id=platform_id,
                 target_type="connection", target_id=connection_id)
    await session.commit()


async def wake(session: AsyncSession, connection_id: str) -> None:
    """Look at this mailbox now (what a push notification will call); the caller commits."""
    await session.execute(update(MailFollow).where(MailFollow.connection_id == connection_id)
                          .values(next_poll_at=utcnow(), idle_polls=0))


# -- the worker's side --------------------------------------------------------------------------

async def lease_due(sessions: async_sessionmaker[AsyncSession], owner: str, *, limit: int,
                    lease: dt.timedelta) -> list[str]:
    """Take up to ``limit`` mailboxes due for a sync; one statement, like the outbox's."""
    now = utcnow()
    free = or_(MailFollow.lease_until.is_(None), MailFollow.lease_until < now)
    due = (select(MailFollow.connection_id)
           .where(MailFollow.next_poll_at <= now, free)
           .order_by(MailFollow.next_poll_at).limit(limit)
           .with_for_update(skip_locked=True).cte("due_mailboxes"))
    async with sessions() as session:
        result = await session.execute(
            update(MailFollow)
            .where(MailFollow.connection_id.in_(select(due.c.connection_id)), free)
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(MailFollow.connection_id)
            .execution_options(synchronize_session=False))
        leased = [str(v) for v in result.scalars().all()]
        await session.commit()
    return leased


async def release(sessions: async_sessionmaker[AsyncSession], owner: str) -> int:
    async with sessions() as session:
        result = await session.execute(
            update(MailFollow).where(MailFollow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False))
        await session.commit()
    return rows_matched(result)


def _later(policy: SyncPolicy, idle_polls: int) -> dt.timedelta:
    """The pause before the next look: doubles while the mailbox stays idle, up to the max,
    with ±10 % jitter so that many mailboxes followed at once spread out."""
    pause: dt.timedelta = min(policy.poll * (2 ** min(idle_polls, 20)), policy.poll_max)
    return pause * (0.9 + 0.2 * random.random())


def _payload(view: ConnectionView, message: dict[str, Any]) -> dict[str, Any]:
    return {"connector": {"slug": view.connector.slug},
            "context": {"external_id": view.context.external_id},
            "connection": {"id": view.connection.id}, "message": message}


async def sync(sessions: async_sessionmaker[AsyncSession], deps: TokenDeps, owner: str,
               connection_id: str, policy: SyncPolicy, *, http: Any, allow_private: bool,
               connect_to: Any) -> Outcome:
    """One look at one leased mailbox: changes → events + new cursor, in one commit."""
    async with sessions() as session:
        follow = await session.get(MailFollow, connection_id)
        if follow is None or follow.lease_owner != owner:
            return Outcome()
        platform_id = follow.platform_id
        folders, cursors = list(follow.folders), dict(follow.cursors)
        idle_polls, synced_at, created_at = follow.idle_polls, follow.synced_at, follow.created_at
        try:
            view = await connections.get_connection(session, platform_id, connection_id)
            follower = _follower(deps, view)
        except XkitError as exc:
            await session.rollback()
            return await _finish(sessions, owner, connection_id, policy, idle_polls,
                                 error=exc.message, pause=policy.poll_max)
        await session.commit()
    mailbox = Mailbox(deps, view, http, allow_private, connect_to)
    # The first sync, and one after the folders changed, lists what arrived since the mailbox
    # was followed; a resync after an expired cursor, since the last sync less a margin.
    since = None
    if any(folder not in cursors for folder in folders) and "history_id" not in cursors:
        since = (synced_at or created_at) - FIRST_SYNC_SKEW
    try:
        try:
            changes = await follower.changes(mailbox, folders, cursors, since)
        except CursorExpired:
            window = (synced_at or created_at) - policy.resync_margin
            log.info("mailbox %s: the provider forgot the cursor; resyncing since %s",
                     connection_id, window.isoformat())
            changes = await follower.changes(mailbox, folders, cursors, window)
    except MailThrottled as exc:
        wait = float(exc.details.get("retry_after") or policy.poll.total_seconds())
        return await _finish(sessions, owner, connection_id, policy, idle_polls,
                             error="throttled by the provider",
                             pause=dt.timedelta(seconds=wait))
    except XkitError as exc:
        return await _finish(sessions, owner, connection_id, policy, idle_polls + 1,
                             error=exc.message[:300])
    return await _record(sessions, owner, view, policy, changes, idle_polls,
                         floor=created_at - policy.resync_margin)


async def _finish(sessions: async_sessionmaker[AsyncSession], owner: str, connection_id: str,
                  policy: SyncPolicy, idle_polls: int, *, error: str | None,
                  pause: dt.timedelta | None = None) -> Outcome:
    async with sessions() as session:
        await session.execute(
            update(MailFollow)
            .where(MailFollow.connection_id == connection_id, MailFollow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, last_error=error, idle_polls=idle_polls,
                    next_poll_at=utcnow() + (pause or _later(policy, idle_polls)))
            .execution_options(synchronize_session=False))
        await session.commit()
    return Outcome(error=error)


async def _record(sessions: async_sessionmaker[AsyncSession], owner: str,
                  view: ConnectionView, policy: SyncPolicy, changes: Changes, idle_polls: int,
                  *, floor: dt.datetime) -> Outcome:
    connection_id = view.connection.id
    platform_id = view.connection.platform_id
    now = utcnow()
    # A changed message the mailbox had before it was followed (read, flagged …) is not
    # new mail; nor is one older than the announced record reaches back.
    oldest = max(floor, now - policy.announced_for)
    candidates: dict[str, Any] = {}
    for seen in changes.seen:
        received = seen.received_at()
        if received is None or received >= oldest:
            candidates.setdefault(seen.id, seen)
    received_count = deleted_count = 0
    async with sessions() as session:
        kept = await session.execute(
            update(MailFollow)
            .where(MailFollow.connection_id == connection_id, MailFollow.lease_owner == owner)
            .values(cursors=changes.cursors)
            .execution_options(synchronize_session=False))
        if rows_matched(kept) == 0:  # the lease lapsed and another worker has the mailbox
            await session.rollback()
            return Outcome(error="lease lost")
        known: set[str] = set()
        ids = list(candidates)
        for start in range(0, len(ids), 500):
            known |= set((await session.scalars(select(MailAnnounced.message_id).where(
                MailAnnounced.connection_id == connection_id,
                MailAnnounced.message_id.in_(ids[start:start + 500])))).all())
        for message_id, seen in candidates.items():
            if message_id in known or len(message_id) > 255:
                continue
            session.add(MailAnnounced(connection_id=connection_id, message_id=message_id,
                                      announced_at=now))
            await record_event(session, platform_id=platform_id, event_type=MAIL_RECEIVED,
                               payload=_payload(view, {
                                   "id": seen.id, "thread_id": seen.thread_id,
                                   "folder_ids": seen.folder_ids, "from": seen.sender,
                                   "subject": seen.subject, "date": seen.date}))
            received_count += 1
        for message_id, folder in dict(changes.removed).items():
            await record_event(session, platform_id=platform_id, event_type=MAIL_DELETED,
                               payload=_payload(view, {"id": message_id,
                                                       "folder_ids": [folder] if folder else []}))
            deleted_count += 1
        active = bool(received_count or deleted_count)
        idle = 0 if active else idle_polls + 1
        await session.execute(
            update(MailFollow)
            .where(MailFollow.connection_id == connection_id)
            .values(lease_owner=None, lease_until=None, last_error=None, synced_at=now,
                    idle_polls=idle, next_poll_at=now + _later(policy, idle))
            .execution_options(synchronize_session=False))
        await session.commit()
    return Outcome(received=received_count, deleted=deleted_count)


async def prune_announced(session: AsyncSession, *, older_than: dt.timedelta) -> int:
    """Forget announcements older than the bound; the caller commits."""
    result = await session.execute(delete(MailAnnounced).where(
        MailAnnounced.announced_at < utcnow() - older_than))
    return rows_matched(result)

