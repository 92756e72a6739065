"""Webhook subscriptions, their delivery logs and redelivery, for a developer's backend."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from xkit.api.deps import CallerDep, PlatformDep, RuntimeDep, SessionDep
from xkit.api.schemas import (
    DeliveryList,
    DeliveryOut,
    ErrorResponse,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookList,
    WebhookOut,
    WebhookResumed,
    WebhookSecret,
    WebhookUpdate,
)
from xkit.db.models import WebhookSubscription
from xkit.services.webhooks import subscriptions as webhooks
from xkit.services.webhooks.subscriptions import DELIVERY_LOG_LIMIT
from xkit.webhook_signature import standard_secret

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such subscription"}}


async def _out(session: SessionDep, subscription: WebhookSubscription) -> WebhookOut:
    counts = await webhooks.delivery_counts(session, [subscription.id])
    return WebhookOut(**webhooks.describe_subscription(subscription, counts[subscription.id]))


@router.get("", response_model=WebhookList, summary="The platform's webhook subscriptions")
async def list_webhooks(caller: CallerDep, session: SessionDep) -> WebhookList:
    found = await webhooks.list_subscriptions(session, caller.platform_id)
    counts = await webhooks.delivery_counts(session, [s.id for s in found])
    return WebhookList(webhooks=[
        WebhookOut(**webhooks.describe_subscription(s, counts[s.id])) for s in found])


@router.post("", response_model=WebhookCreated, status_code=201,
             summary="Subscribe a URL to events; the answer holds the signing secret, once")
async def create_webhook(body: WebhookCreate, caller: CallerDep, platform: PlatformDep,
                         runtime: RuntimeDep, session: SessionDep) -> WebhookCreated:
    subscription, secret = await webhooks.create_subscription(
        session, runtime.subscription_policy, platform,
        body.model_dump(exclude_none=True), actor=caller.actor)
    out = await _out(session, subscription)
    return WebhookCreated(**out.model_dump(), signing_secret=secret,
                          standard_webhooks_secret=standard_secret(secret))


@router.get("/{webhook_id}", response_model=WebhookOut, summary="One subscription",
            responses=_NOT_FOUND)
async def get_webhook(webhook_id: str, caller: CallerDep, session: SessionDep) -> WebhookOut:
    return await _out(session, await webhooks.get_subscription(session, caller.platform_id,
                                                               webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut,
              summary="Change a subscription's URL, events, description or enabled",
              responses=_NOT_FOUND)
async def update_webhook(webhook_id: str, body: WebhookUpdate, caller: CallerDep,
                         runtime: RuntimeDep, session: SessionDep) -> WebhookOut:
    subscription = await webhooks.get_subscription(session, caller.platform_id, webhook_id)
    changes = body.model_dump(exclude_unset=True)
    subscription = await webhooks.update_subscription(
        session, runtime.subscription_policy, subscription, changes, actor=caller.actor)
    return await _out(session, subscription)


@router.delete("/{webhook_id}", response_model=WebhookDeleted,
               summary="Delete a subscription and its delivery log", responses=_NOT_FOUND)
async def delete_webhook(webhook_id: str, caller: CallerDep,
                         session: SessionDep) -> WebhookDeleted:
    subscription = await webhooks.get_subscription(session, caller.platform_id, webhook_id)
    await webhooks.delete_subscription(session, subscription, actor=caller.actor)
    return WebhookDeleted(deleted=True)


@router.post("/{webhook_id}/resume", response_model=WebhookResumed,
             summary="Lift a pause: every delivery that waited or gave up is sent again",
             responses=_NOT_FOUND)
async def resume_webhook(webhook_id: str, caller: CallerDep,
                         session: SessionDep) -> WebhookResumed:
    subscription = await webhooks.get_subscription(session, caller.platform_id, webhook_id)
    queued = await webhooks.resume_subscription(session, subscription, actor=caller.actor)
    return WebhookResumed(webhook=await _out(session, subscription), deliveries_queued=queued)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookSecret,
             summary="Replace the signing secret (the new one is shown once)",
             responses=_NOT_FOUND)
async def rotate_webhook_secret(webhook_id: str, caller: CallerDep, runtime: RuntimeDep,
                                session: SessionDep) -> WebhookSecret:
    subscription = await webhooks.get_subscription(session, caller.platform_id, webhook_id)
    secret = await webhooks.rotate_secret(session, runtime.subscription_policy, subscription,
                                          actor=caller.actor)
    return WebhookSecret(signing_secret=secret, standard_webhooks_secret=standard_secret(secret))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList,
            summary="The delivery log, newest first", responses=_NOT_FOUND)
async def list_deliveries(
    webhook_id: str, caller: CallerDep, session: SessionDep,
    status: Annotated[str | None, Query(description="pending, delivered or failed")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = DELIVERY_LOG_LIMIT,
) -> DeliveryList:
    subscription = await webhooks.get_subscription(session, caller.platform_id, webhook_id)
    rows = await webhooks.list_deliveries(session, subscription, status=status, limit=limit)
    return DeliveryList(deliveries=[DeliveryOut(**webhooks.describe_delivery(r)) for r in rows])


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             status_code=202, summary="Send a delivery again, as soon as a worker is free",
             responses={**_NOT_FOUND, 409: {"model": ErrorResponse,
                                            "description": "In flight, or the subscription "
                                                           "is paused"}})
async def redeliver(webhook_id: str, delivery_id: str, caller: CallerDep,
                    session: SessionDep) -> DeliveryOut:
    subscription = await webhooks.get_subscription(session, caller.platform_id, webhook_id)
    row = await webhooks.redeliver(session, subscription, delivery_id, actor=caller.actor)
    return DeliveryOut(**webhooks.describe_delivery(row))
