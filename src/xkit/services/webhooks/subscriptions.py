"""Webhook subscriptions: where a platform hears about its connections, and the delivery log.

The signing secret is made here, returned once, and stored encrypted (bound to its row); the
worker decrypts it for each delivery. Sending is :mod:`xkit.services.webhooks.delivery`'s job.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.crypto import Keyring
from xkit.db.models import Platform, WebhookDelivery, WebhookEvent, WebhookSubscription
from xkit.db.results import rows_matched
from xkit.db.types import new_id, utcnow
from xkit.errors import Conflict, InvalidInput, NotFound
from xkit.outbound import AddressRefused, UnresolvableHost, is_public, resolve
from xkit.services.admin import audit
from xkit.services.configuration.keyring import column_aad
from xkit.services.configuration.validation import check_http_url, check_text
from xkit.services.webhooks.events import EVENT_TYPES

SECRET_PREFIX = "whsec_"
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED)
DELIVERY_LOG_LIMIT = 100
EDITABLE_FIELDS = ("url", "events", "description", "enabled")


@dataclass(frozen=True)
class SubscriptionPolicy:
    """What the operator allows: private-network receivers are for tests and intranets."""

    keyring: Keyring
    allow_private_networks: bool


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as the log shows it: never the body's secret, never the signing secret."""

    delivery: WebhookDelivery
    event_type: str

    @property
    def in_flight(self) -> bool:
        lease = self.delivery.lease_until
        return lease is not None and lease > utcnow()


def secret_aad(subscription_id: str) -> str:
    return column_aad("webhook_subscriptions", "signing_secret", subscription_id)


def signing_secret(keyring: Keyring, subscription: WebhookSubscription) -> str:
    return keyring.decrypt(subscription.signing_secret, aad=secret_aad(subscription.id))


def _new_secret(keyring: Keyring, subscription_id: str) -> tuple[str, str]:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, keyring.encrypt(secret, aad=secret_aad(subscription_id))


async def check_url(url: object, *, allow_private: bool) -> str:
    """An http(s) URL without credentials in it, whose host resolves to public addresses."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("url is required", details={"field": "url"})
    url = check_http_url(url, field="url")
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise InvalidInput("url must not carry a user name or password; receivers check the "
                           "signature instead", details={"field": "url"})
    try:
        # a typo is caught now, not after a day of retries; the address is checked again,
        # and connected to, on each delivery (xkit.outbound)
        addresses = await resolve(parts.hostname or "")
        if not allow_private and not all(is_public(address) for address in addresses):
            raise AddressRefused(parts.hostname or "")
    except UnresolvableHost:
        raise InvalidInput(f"the host {parts.hostname} cannot be resolved",
                           details={"field": "url"}) from None
    except AddressRefused:
        raise InvalidInput(f"{parts.hostname} is a private or loopback address; an "
                           "operator can allow that with XKIT_WEBHOOK_ALLOW_PRIVATE_NETWORKS",
                           details={"field": "url"}) from None
    return url


def check_events(events: object) -> list[str]:
    """Known event types, without repeats; an empty list means every event."""
    if events is None:
        return []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise InvalidInput("events must be a list of event types", details={"field": "events"})
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(f"unknown event type {unknown[0]!r}; known: "
                           f"{', '.join(EVENT_TYPES)}", details={"field": "events"})
    return list(dict.fromkeys(events))


def _description(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("description must be text", details={"field": "description"})
    return check_text(value.strip(), field="description", maximum=200)


async def create_subscription(session: AsyncSession, policy: SubscriptionPolicy,
                              platform: Platform, fields: dict[str, Any], *,
                              actor: str) -> tuple[WebhookSubscription, str]:
    """Returns the subscription and its signing secret, which exists in plaintext only here."""
    subscription_id = new_id()
    secret, ciphertext = _new_secret(policy.keyring, subscription_id)
    enabled = fields.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput("enabled must be true or false", details={"field": "enabled"})
    subscription = WebhookSubscription(
        id=subscription_id, platform_id=platform.id,
        url=await check_url(fields.get("url"), allow_private=policy.allow_private_networks),
        events=check_events(fields.get("events")),
        description=_description(fields.get("description")),
        signing_secret=ciphertext, enabled=enabled)
    session.add(subscription)
    audit.record(session, actor=actor, action="webhook.created", platform_id=platform.id,
                 target_type="webhook", target_id=subscription.id,
                 details={"events": subscription.events or "all"})
    await session.commit()
    return subscription, secret


async def list_subscriptions(session: AsyncSession, platform_id: str) -> list[WebhookSubscription]:
    return list((await session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.platform_id == platform_id)
        .order_by(WebhookSubscription.created_at))).all())


async def get_subscription(session: AsyncSession, platform_id: str,
                           subscription_id: str) -> WebhookSubscription:
    subscription = await session.scalar(select(WebhookSubscription).where(
        WebhookSubscription.id == subscription_id,
        WebhookSubscription.platform_id == platform_id))
    if subscription is None:
        raise NotFound(f"no webhook subscription {subscription_id!r}", code="webhook_not_found")
    return subscription


async def update_subscription(session: AsyncSession, policy: SubscriptionPolicy,
                              subscription: WebhookSubscription, changes: dict[str, Any], *,
                              actor: str) -> WebhookSubscription:
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(f"{unknown[0]} cannot be changed", details={"field": unknown[0]})
    if "url" in changes:
        subscription.url = await check_url(changes["url"],
                                           allow_private=policy.allow_private_networks)
    if "events" in changes:
        subscription.events = check_events(changes["events"])
    if "description" in changes:
        subscription.description = _description(changes["description"])
    if "enabled" in changes:
        if not isinstance(changes["enabled"], bool):
            raise InvalidInput("enabled must be true or false", details={"field": "enabled"})
        subscription.enabled = changes["enabled"]
    audit.record(session, actor=actor, action="webhook.updated",
                 platform_id=subscription.platform_id, target_type="webhook",
                 target_id=subscription.id, details={"fields": sorted(changes)})
    await session.commit()
    return subscription


async def rotate_secret(session: AsyncSession, policy: SubscriptionPolicy,
                        subscription: WebhookSubscription, *, actor: str) -> str:
    """A new signing secret, in force for every delivery from now on; returned once."""
    secret, subscription.signing_secret = _new_secret(policy.keyring, subscription.id)
    audit.record(session, actor=actor, action="webhook.secret_rotated",
                 platform_id=subscription.platform_id, target_type="webhook",
                 target_id=subscription.id)
    await session.commit()
    return secret


async def delete_subscription(session: AsyncSession, subscription: WebhookSubscription, *,
                              actor: str) -> None:
    """Delete it with its delivery log; deliveries still waiting are dropped with it."""
    audit.record(session, actor=actor, action="webhook.deleted",
                 platform_id=subscription.platform_id, target_type="webhook",
                 target_id=subscription.id,
                 details={"url_host": urlsplit(subscription.url).hostname})
    await session.delete(subscription)
    await session.commit()


async def resume_subscription(session: AsyncSession, subscription: WebhookSubscription, *,
                              actor: str) -> int:
    """Lift a pause: everything that waited, and what gave up, goes out again from now, with a
    fresh retry budget. Returns how many deliveries were queued."""
    subscription.paused_at = None
    subscription.paused_reason = None
    queued = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription.id,
               WebhookDelivery.status.in_((PENDING, FAILED)))
        .values(status=PENDING, next_attempt_at=utcnow(), failures_in_a_row=0))
    audit.record(session, actor=actor, action="webhook.resumed",
                 platform_id=subscription.platform_id, target_type="webhook",
                 target_id=subscription.id)
    await session.commit()
    return rows_matched(queued)


async def delivery_counts(session: AsyncSession,
                          subscription_ids: list[str]) -> dict[str, dict[str, int]]:
    """Per subscription, how many deliveries are pending, delivered and failed."""
    counts: dict[str, dict[str, int]] = {i: dict.fromkeys(DELIVERY_STATUSES, 0)
                                         for i in subscription_ids}
    if subscription_ids:
        rows = await session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count())
            .where(WebhookDelivery.subscription_id.in_(subscription_ids))
            .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status))
        for subscription_id, status, count in rows.all():
            counts[subscription_id][status] = count
    return counts


async def list_deliveries(session: AsyncSession, subscription: WebhookSubscription, *,
                          status: str | None = None,
                          limit: int = DELIVERY_LOG_LIMIT) -> list[DeliveryRow]:
    """The newest deliveries first."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(DELIVERY_STATUSES)}",
                           details={"field": "status"})
    query = (select(WebhookDelivery, WebhookEvent.event_type)
             .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
             .where(WebhookDelivery.subscription_id == subscription.id)
             .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
             .limit(max(1, min(limit, 500))))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return [DeliveryRow(d, t) for d, t in (await session.execute(query)).all()]


async def redeliver(session: AsyncSession, subscription: WebhookSubscription, delivery_id: str,
                    *, actor: str) -> DeliveryRow:
    """Send a delivery again (delivered or not), as soon as a worker is free."""
    if subscription.paused_at is not None:
        raise Conflict("this subscription is paused: resume it, which sends everything that "
                       "waited", code="webhook_paused")
    now = utcnow()
    queued = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id,
               WebhookDelivery.subscription_id == subscription.id,
               or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now))
        .values(status=PENDING, next_attempt_at=now, failures_in_a_row=0))
    if rows_matched(queued) != 1:
        exists = await session.scalar(select(WebhookDelivery.id).where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.subscription_id == subscription.id))
        if exists is None:
            raise NotFound(f"no delivery {delivery_id!r} for this subscription",
                           code="delivery_not_found")
        raise Conflict("this delivery is being sent right now", code="delivery_in_flight")
    audit.record(session, actor=actor, action="webhook.redelivered",
                 platform_id=subscription.platform_id, target_type="webhook_delivery",
                 target_id=delivery_id)
    await session.commit()
    row = (await session.execute(
        select(WebhookDelivery, WebhookEvent.event_type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id)
        .execution_options(populate_existing=True))).one()
    return DeliveryRow(row[0], row[1])


def describe_subscription(subscription: WebhookSubscription,
                          counts: dict[str, int] | None = None) -> dict[str, Any]:
    """A subscription as the API shows it: never its signing secret."""
    body: dict[str, Any] = {
        "id": subscription.id,
        "url": subscription.url,
        "description": subscription.description,
        "events": list(subscription.events),
        "enabled": subscription.enabled,
        "paused": subscription.paused_at is not None,
        "paused_at": subscription.paused_at,
        "paused_reason": subscription.paused_reason,
        "created_at": subscription.created_at,
        "updated_at": subscription.updated_at,
    }
    if counts is not None:
        body["deliveries"] = counts
    return body


def describe_delivery(row: DeliveryRow) -> dict[str, Any]:
    d = row.delivery
    return {
        "id": d.id,
        "event_id": d.event_id,
        "event_type": row.event_type,
        "status": d.status,
        "in_flight": row.in_flight,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at if d.status == PENDING else None,
        "last_response_code": d.last_response_code,
        "last_error": d.last_error,
        "last_duration_ms": d.last_duration_ms,
        "delivered_at": d.delivered_at,
        "created_at": d.created_at,
    }
