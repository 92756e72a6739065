"""Webhook events, written into the outbox in the caller's transaction.

The event row commits or rolls back with the change it reports, so a receiver never hears of
a connection that does not exist, and never misses one that does. Delivery is the worker's job
(:mod:`xkit.services.webhooks.delivery`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xkit.db.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from xkit.db.types import new_id

if TYPE_CHECKING:
    from xkit.services.tokens.connections import ConnectionView

CONNECTION_ENABLED = "connection.enabled"
CONNECTION_DISABLED = "connection.disabled"
CONNECTION_ERROR = "connection.error"
CONNECTION_RECONNECTED = "connection.reconnected"
# New mail in a followed mailbox (xkit.services.mail.follow, docs/mail.md#events).
MAIL_RECEIVED = "mail.received"
MAIL_DELETED = "mail.deleted"
EVENT_TYPES = (CONNECTION_ENABLED, CONNECTION_DISABLED, CONNECTION_ERROR,
               CONNECTION_RECONNECTED, MAIL_RECEIVED, MAIL_DELETED)


def connection_payload(view: ConnectionView, *, status: str,
                       error: dict[str, str] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connector": {"slug": view.connector.slug},
        "context": {"external_id": view.context.external_id},
        "connection": {"id": view.connection.id, "status": status},
    }
    if error:
        payload["error"] = error
    return payload


async def record_connection_event(session: AsyncSession, view: ConnectionView, event_type: str,
                                  *, status: str,
                                  error: dict[str, str] | None = None) -> WebhookEvent:
    """:func:`record_event` for a change to one connection; the caller commits."""
    return await record_event(session, platform_id=view.connection.platform_id,
                              event_type=event_type,
                              payload=connection_payload(view, status=status, error=error))


async def record_event(session: AsyncSession, *, platform_id: str, event_type: str,
                       payload: dict[str, Any]) -> WebhookEvent:
    """Add the event and one pending delivery per matching subscription; the caller commits.

    Paused subscriptions get their deliveries too: they wait, and go out on resume."""
    event = WebhookEvent(id=new_id(), platform_id=platform_id, event_type=event_type,
                         payload=payload)
    session.add(event)
    await session.flush()  # the deliveries reference it
    subscriptions = await session.scalars(select(WebhookSubscription).where(
        WebhookSubscription.platform_id == platform_id, WebhookSubscription.enabled.is_(True)))
    for subscription in subscriptions.all():
        if not subscription.events or event_type in subscription.events:
            session.add(WebhookDelivery(platform_id=platform_id, event_id=event.id,
                                        subscription_id=subscription.id))
    return event
