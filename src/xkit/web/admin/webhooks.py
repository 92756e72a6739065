"""Webhooks: subscriptions (the secret shown once), the delivery log, redeliver, resume, delete."""

from __future__ import annotations

from starlette.responses import Response

from xkit.db.models import WebhookSubscription
from xkit.errors import XkitError
from xkit.services.webhooks import subscriptions as webhooks
from xkit.services.webhooks.events import EVENT_TYPES
from xkit.web.admin.pages import Page, field_error, page, too_long
from xkit.webhook_signature import standard_secret

EVENT_DESCRIPTIONS = {
    "connection.enabled": "A user connected an account.",
    "connection.reconnected": "A user connected again, after an error or to refresh consent.",
    "connection.error": "A connection broke (the user declined, or access was revoked or "
                        "expired): the user must reconnect.",
    "connection.disabled": "A connection was removed (by the user, your backend, the "
                           "dashboard, or with its context or connector).",
}


def _event_choices(chosen: list[str]) -> list[dict[str, object]]:
    return [{"name": e, "description": EVENT_DESCRIPTIONS.get(e, ""), "checked": e in chosen}
            for e in EVENT_TYPES]


async def _subscription(current: Page) -> WebhookSubscription:
    assert current.platform is not None
    return await webhooks.get_subscription(current.db, current.platform.id,
                                           current.param("webhook_id"))


@page
async def webhook_list(current: Page) -> Response:
    """GET lists; POST creates and answers with the signing secret directly (like API keys:
    it exists in plaintext only in this response, so there is no page to redirect to)."""
    assert current.platform is not None
    chosen: list[str] = []
    values: dict[str, object] = {"url": "", "description": "", "events": chosen}
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        chosen = await current.values("events")
        values = {**(await current.fields("url", "description")), "events": chosen}
        errors = too_long(values, {"url": 2048, "description": 200})
        if not str(values["url"]).strip():
            errors["url"] = "Enter the URL xkit should send events to."
        if not errors:
            try:
                subscription, secret = await webhooks.create_subscription(
                    current.db, current.runtime.subscription_policy, current.platform,
                    {"url": values["url"], "description": values["description"],
                     "events": values["events"]}, actor=current.actor)
            except XkitError as exc:
                await current.rollback()
                errors.update([field_error(exc, "url")])
            else:
                return await current.render("webhook_secret.html", nav="webhooks",
                                            subscription=subscription, secret=secret,
                                            standard_secret=standard_secret(secret),
                                            created=True)
    found = await webhooks.list_subscriptions(current.db, current.platform.id)
    counts = await webhooks.delivery_counts(current.db, [s.id for s in found])
    return await current.render(
        "webhooks.html", status=422 if errors else 200, nav="webhooks", subscriptions=found,
        counts=counts, values=values, errors=errors,
        events=_event_choices(chosen))


@page
async def webhook_detail(current: Page) -> Response:
    """GET shows the subscription and its delivery log; POST saves its settings."""
    subscription = await _subscription(current)
    chosen = list(subscription.events)
    values: dict[str, object] = {"url": subscription.url,
                                 "description": subscription.description,
                                 "events": chosen,
                                 "enabled": subscription.enabled}
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        chosen = await current.values("events")
        values = {**(await current.fields("url", "description")),
                  "events": chosen,
                  "enabled": bool(await current.field("enabled"))}
        errors = too_long(values, {"url": 2048, "description": 200})
        if not errors:
            try:
                await webhooks.update_subscription(
                    current.db, current.runtime.subscription_policy, subscription,
                    dict(values), actor=current.actor)
            except XkitError as exc:
                await current.rollback()
                subscription = await _subscription(current)
                errors.update([field_error(exc, "url")])
            else:
                return current.redirect(current.platform_path(f"/webhooks/{subscription.id}"),
                                        notice="Webhook saved.")
    status_filter = current.query("status") or None
    if status_filter not in (None, *webhooks.DELIVERY_STATUSES):
        status_filter = None
    deliveries = await webhooks.list_deliveries(current.db, subscription, status=status_filter)
    counts = (await webhooks.delivery_counts(current.db, [subscription.id]))[subscription.id]
    return await current.render(
        "webhook.html", status=422 if errors else 200, nav="webhooks",
        subscription=subscription, deliveries=deliveries, counts=counts, values=values,
        errors=errors, status_filter=status_filter,
        events=_event_choices(chosen))


@page
async def webhook_resume(current: Page) -> Response:
    subscription = await _subscription(current)
    queued = await webhooks.resume_subscription(current.db, subscription, actor=current.actor)
    return current.redirect(current.platform_path(f"/webhooks/{subscription.id}"),
                            notice=f"Webhook resumed: {queued} deliveries queued.")


@page
async def webhook_redeliver(current: Page) -> Response:
    subscription = await _subscription(current)
    back = current.platform_path(f"/webhooks/{subscription.id}")
    try:
        await webhooks.redeliver(current.db, subscription, current.param("delivery_id"),
                                 actor=current.actor)
    except XkitError as exc:
        if exc.status_code == 404:
            raise
        await current.rollback()
        return current.redirect(back, notice=f"Not redelivered: {exc.message}.")
    return current.redirect(back, notice="Queued for redelivery.")


@page
async def webhook_rotate_secret(current: Page) -> Response:
    """Answers with the new secret directly, for the same reason as creating."""
    subscription = await _subscription(current)
    secret = await webhooks.rotate_secret(current.db, current.runtime.subscription_policy,
                                          subscription, actor=current.actor)
    return await current.render("webhook_secret.html", nav="webhooks",
                                subscription=subscription, secret=secret,
                                standard_secret=standard_secret(secret), created=False)


@page
async def webhook_delete(current: Page) -> Response:
    """GET asks; POST deletes the subscription with its delivery log."""
    subscription = await _subscription(current)
    if current.request.method == "POST":
        await webhooks.delete_subscription(current.db, subscription, actor=current.actor)
        return current.redirect(current.platform_path("/webhooks"),
                                notice="Webhook deleted.")
    counts = (await webhooks.delivery_counts(current.db, [subscription.id]))[subscription.id]
    return await current.render("webhook_delete.html", nav="webhooks",
                                subscription=subscription, counts=counts)
