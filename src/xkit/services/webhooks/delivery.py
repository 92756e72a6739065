"""Sending the outbox: lease due deliveries, sign and POST them, record what happened.

At least once, never twice at the same time. A delivery row is one event for one receiver; a
worker sends it only while it holds the row's lease, taken with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite serialises writers, so the same conditional UPDATE is enough there). The
lease outlasts the request timeout, so it cannot lapse while a request is still out. A worker
that dies leaves its leases to expire, and another worker sends those deliveries again: the
receiver may see an event twice after a crash, and tells by its id.

Failures are retried with exponential backoff and jitter for about a day (13 attempts by
default); when a delivery runs out of attempts its subscription is paused, with the reason,
until someone resumes it. Nothing is dropped: deliveries created meanwhile wait.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xkit import metrics
from xkit.crypto import Keyring
from xkit.db.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from xkit.db.results import rows_matched
from xkit.db.types import utcnow
from xkit.outbound import AddressRefused, UnresolvableHost
from xkit.services.webhooks.subscriptions import DELIVERED, FAILED, PENDING, signing_secret
from xkit.webhook_signature import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    sign_standard_webhook,
    sign_webhook,
)

log = logging.getLogger("xkit.webhooks")

USER_AGENT = "xkit-webhooks/1"
# The longest pause between two attempts, as a multiple of the base delay: with the default
# base of a minute, delays double from 1 minute up to 6 hours, 13 attempts span about a day.
MAX_DELAY_FACTOR = 360
ERROR_EXCERPT_CHARS = 300


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_seconds: float
    lease: dt.timedelta
    retry_base: dt.timedelta
    max_attempts: int


@dataclass(frozen=True)
class Attempt:
    """What one POST to a receiver came to."""

    ok: bool
    response_code: int | None
    error: str | None
    duration_ms: int


def retry_delay(failures_in_a_row: int, base: dt.timedelta,
                rng: random.Random | None = None) -> dt.timedelta:
    """Exponential backoff with jitter: ``base × 2^(n-1)``, capped, then ×0.5-1.5 at random so
    that receivers coming back from an outage are not hit by every retry at once."""
    doublings: int = 2 ** max(failures_in_a_row - 1, 0)
    factor = min(doublings, MAX_DELAY_FACTOR)
    jitter = 0.5 + (rng or random).random()
    return base * factor * jitter


def event_body(event: WebhookEvent) -> bytes:
    """Xkit's event shape; the same bytes on every attempt, so receivers may hash them too."""
    document = {
        "id": event.id,
        "event_type": event.event_type,
        "created_at": event.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "payload": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


async def lease_due(sessions: async_sessionmaker[AsyncSession], owner: str, *, limit: int,
                    lease: dt.timedelta) -> list[str]:
    """Take up to ``limit`` due deliveries for ``owner``; returns their ids.

    One statement: the inner SELECT locks candidate rows and skips those another worker is
    leasing right now (PostgreSQL), the UPDATE re-checks that each is still free (SQLite)."""
    now = utcnow()
    free = or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
    due = (
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now, free,
               WebhookSubscription.enabled.is_(True), WebhookSubscription.paused_at.is_(None))
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
        .cte("due")  # a CTE with FOR UPDATE runs once (an IN subquery might be re-run)
    )
    async with sessions() as session:
        result = await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(select(due.c.id)),
                   WebhookDelivery.status == PENDING, free)
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False))
        leased = [str(row_id) for row_id in result.scalars().all()]
        await session.commit()
    return leased


async def release(sessions: async_sessionmaker[AsyncSession], owner: str,
                  delivery_ids: list[str] | None = None) -> int:
    """Give leases back untouched (a worker stopping before it sent them)."""
    condition = WebhookDelivery.lease_owner == owner
    if delivery_ids is not None:
        condition = and_(condition, WebhookDelivery.id.in_(delivery_ids))
    async with sessions() as session:
        result = await session.execute(
            update(WebhookDelivery).where(condition)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False))
        await session.commit()
    return rows_matched(result)


async def deliver(sessions: async_sessionmaker[AsyncSession], keyring: Keyring,
                  http: httpx.AsyncClient, policy: DeliveryPolicy, delivery_id: str,
                  owner: str) -> Attempt | None:
    """Send one leased delivery and record the outcome; ``None`` if the lease was lost."""
    async with sessions() as session:
        row = (await session.execute(
            select(WebhookDelivery, WebhookEvent, WebhookSubscription)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.lease_owner == owner)
        )).first()
        await session.commit()  # no transaction (nor pooled connection) while the receiver works
    if row is None:
        metrics.get().deliveries.labels("lease_lost").inc()
        return None
    delivery, event, subscription = row
    attempt = await post(http, policy, subscription.url, event,
                         signing_secret(keyring, subscription), attempt=delivery.attempts + 1)
    await _record(sessions, policy, delivery, subscription, owner, attempt)
    return attempt


async def post(http: httpx.AsyncClient, policy: DeliveryPolicy, url: str, event: WebhookEvent,
               secret: str, *, attempt: int) -> Attempt:
    started = time.monotonic()

    def outcome(ok: bool, code: int | None, error: str | None) -> Attempt:
        return Attempt(ok, code, error, int((time.monotonic() - started) * 1000))

    body = event_body(event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign_webhook(secret, body, timestamp),
        STANDARD_ID_HEADER: event.id,
        STANDARD_TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: sign_standard_webhook(secret, event.id, body, timestamp),
        EVENT_ID_HEADER: event.id,
        EVENT_TYPE_HEADER: event.event_type,
        "Xkit-Delivery-Attempt": str(attempt),
    }
    try:
        # ``http`` holds every request to the webhook policy (xkit.outbound): the receiver's
        # address is checked, and connected to, as it is sent.
        async with http.stream("POST", url, content=body, headers=headers,
                               timeout=policy.timeout_seconds) as response:
            excerpt = await _excerpt(response)
    except UnresolvableHost:
        return outcome(False, None, f"cannot resolve {urlsplit(url).hostname}")
    except AddressRefused:
        return outcome(False, None, f"refused: {urlsplit(url).hostname} is a private or "
                                    "loopback address")
    except httpx.TimeoutException:
        return outcome(False, None, f"no answer within {policy.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return outcome(False, None, f"could not connect ({type(exc).__name__})")
    if 200 <= response.status_code < 300:
        return outcome(True, response.status_code, None)
    reason = f"HTTP {response.status_code}"
    if 300 <= response.status_code < 400:
        reason += " (redirects are not followed: use the final URL)"
    return outcome(False, response.status_code, f"{reason}: {excerpt}" if excerpt else reason)


async def _excerpt(response: httpx.Response) -> str:
    """The start of the receiver's answer, for the log (receivers often say what they
    disliked); read no further than that."""
    if 200 <= response.status_code < 300:
        return ""
    chunks = b""
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) >= ERROR_EXCERPT_CHARS:
            break
    return " ".join(chunks[:ERROR_EXCERPT_CHARS].decode(errors="replace").split())


async def _record(sessions: async_sessionmaker[AsyncSession], policy: DeliveryPolicy,
                  delivery: WebhookDelivery, subscription: WebhookSubscription, owner: str,
                  attempt: Attempt) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "attempts": WebhookDelivery.attempts + 1,
        "last_response_code": attempt.response_code,
        "last_error": attempt.error,
        "last_duration_ms": attempt.duration_ms,
        "lease_owner": None,
        "lease_until": None,
    }
    failures = delivery.failures_in_a_row + 1
    gave_up = not attempt.ok and failures >= policy.max_attempts
    if attempt.ok:
        values.update(status=DELIVERED, delivered_at=now, failures_in_a_row=0)
    elif gave_up:
        values.update(status=FAILED, failures_in_a_row=failures)
    else:
        values.update(failures_in_a_row=failures,
                      next_attempt_at=now + retry_delay(failures, policy.retry_base))
    async with sessions() as session:
        # Only while the lease is still ours: if it lapsed, another worker owns the row now.
        written = await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.lease_owner == owner)
            .values(values).execution_options(synchronize_session=False))
        if rows_matched(written) == 1 and gave_up:
            await session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == subscription.id,
                       WebhookSubscription.paused_at.is_(None))
                .values(paused_at=now, paused_reason=(
                    f"Paused after {failures} failed attempts to deliver one event "
                    f"(last: {attempt.error}). Fix the receiver, then resume: everything "
                    "that waited is sent again.")))
        await session.commit()
    metrics.get().deliveries.labels(
        "delivered" if attempt.ok else "gave_up" if gave_up else "retrying").inc()
    if attempt.ok:
        log.info("delivered event %s to webhook %s in %d ms", delivery.event_id,
                 subscription.id, attempt.duration_ms)
    elif gave_up:
        log.warning("webhook %s paused: event %s failed %d times (%s)", subscription.id,
                    delivery.event_id, failures, attempt.error)
    else:
        log.info("delivery of event %s to webhook %s failed (%s); retrying later",
                 delivery.event_id, subscription.id, attempt.error)


async def outbox_stats(session: AsyncSession) -> tuple[int, float]:
    """How many deliveries are due and not sent (paused or disabled subscriptions aside:
    they wait on purpose), and how many seconds the oldest of them has been due."""
    now = utcnow()
    count, oldest = (await session.execute(
        select(func.count(), func.min(WebhookDelivery.next_attempt_at))
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now,
               WebhookSubscription.enabled.is_(True), WebhookSubscription.paused_at.is_(None))
    )).one()
    if not count or oldest is None:
        return 0, 0.0
    if oldest.tzinfo is None:  # SQLite hands datetimes back naive (they are UTC)
        oldest = oldest.replace(tzinfo=dt.UTC)
    return int(count), max((now - oldest).total_seconds(), 0.0)


async def prune_outbox(session: AsyncSession, *, older_than: dt.timedelta) -> int:
    """Forget events older than the retention period once nothing waits to send them."""
    cutoff = utcnow() - older_than
    waiting = exists().where(WebhookDelivery.event_id == WebhookEvent.id,
                             WebhookDelivery.status == PENDING)
    result = await session.execute(
        delete(WebhookEvent).where(WebhookEvent.created_at < cutoff, ~waiting)
        .execution_options(synchronize_session=False))
    await session.commit()
    return rows_matched(result)
