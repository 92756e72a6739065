"""Every Platform API call the SDK makes, described once for both clients."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from xkit_client._calls import Call, drop_none, path, segment
from xkit_client.models import (
    Connection as ListedConnection,
)
from xkit_client.models import (
    ConnectionDeleted,
    ConnectionPage,
    ConnectionWithToken,
    Connector,
    Context,
    ContextPage,
    ContextWithToken,
    CreatedWebhook,
    Delivery,
    MailAddress,
    MailEvents,
    MailFolder,
    MailMessage,
    MailPage,
    SentMail,
    Webhook,
    WebhookResumed,
    WebhookSecret,
)


def _nothing(_: Any) -> None:
    return None


def create_context(external_id: str, name: str | None,
                   attributes: dict[str, Any]) -> Call[ContextWithToken]:
    context: dict[str, Any] = {"external_id": external_id, **attributes}
    if name is not None:
        context["external_name"] = name
    # An upsert: sending it twice leaves the same context, so it may be retried.
    return Call("POST", path("contexts"), ContextWithToken.from_api,
                json={"context": context}, idempotent=True)


def contexts_page(limit: int | None, cursor: str | None) -> Call[ContextPage]:
    params = drop_none({"limit": limit, "cursor": cursor})
    return Call("GET", path("contexts"), ContextPage.from_api, params=params or None)


def get_context(external_id: str) -> Call[Context]:
    return Call("GET", path("contexts", external_id), Context.from_api)


def delete_context(external_id: str) -> Call[None]:
    return Call("DELETE", path("contexts", external_id), _nothing)


def _token_params(force_refresh: bool, subject: str | None) -> dict[str, Any] | None:
    return drop_none({"force_refresh": "true" if force_refresh else None,
                      "subject": subject}) or None


def get_connection(external_id: str, connector: str, force_refresh: bool,
                   subject: str | None) -> Call[ConnectionWithToken]:
    return Call("GET", path("contexts", external_id, "connections", connector),
                ConnectionWithToken.from_api, params=_token_params(force_refresh, subject))


def get_connection_by_id(connection_id: str, force_refresh: bool,
                         subject: str | None) -> Call[ConnectionWithToken]:
    return Call("GET", path("connections", connection_id), ConnectionWithToken.from_api,
                params=_token_params(force_refresh, subject))


def list_context_connections(external_id: str) -> Call[list[ListedConnection]]:
    return Call("GET", path("contexts", external_id, "connections"),
                lambda body: [ListedConnection.from_api(c) for c in body["connections"]])


def connect(external_id: str, connector: str,
            fields: dict[str, str] | None) -> Call[ListedConnection]:
    body: dict[str, Any] = {"connector": connector}
    if fields:
        body["fields"] = fields
    # Not retried: a second try after a lost answer would connect again.
    return Call("POST", path("contexts", external_id, "connections"),
                ListedConnection.from_api, json=body)


def connections_page(connector: str | None, status: str | None, context: str | None,
                     limit: int | None, cursor: str | None) -> Call[ConnectionPage]:
    params = drop_none({"connector": connector, "status": status, "context": context,
                        "limit": limit, "cursor": cursor})
    return Call("GET", path("connections"), ConnectionPage.from_api, params=params or None)


def delete_connection(connection_id: str) -> Call[ConnectionDeleted]:
    return Call("DELETE", path("connections", connection_id), ConnectionDeleted.from_api)


def list_connectors() -> Call[list[Connector]]:
    return Call("GET", path("connectors"),
                lambda body: [Connector.from_api(c) for c in body["connectors"]])


def get_connector(slug: str) -> Call[Connector]:
    return Call("GET", path("connectors", slug), Connector.from_api)


def create_webhook(url: str, events: list[str] | None, description: str | None,
                   enabled: bool) -> Call[CreatedWebhook]:
    body = drop_none({"url": url, "events": events, "description": description})
    body["enabled"] = enabled
    return Call("POST", path("webhooks"), CreatedWebhook.from_api, json=body)


def list_webhooks() -> Call[list[Webhook]]:
    return Call("GET", path("webhooks"),
                lambda body: [Webhook.from_api(w) for w in body["webhooks"]])


def get_webhook(webhook_id: str) -> Call[Webhook]:
    return Call("GET", path("webhooks", webhook_id), Webhook.from_api)


def update_webhook(webhook_id: str, url: str | None, events: list[str] | None,
                   description: str | None, enabled: bool | None) -> Call[Webhook]:
    body = drop_none({"url": url, "events": events, "description": description,
                      "enabled": enabled})
    # Setting fields to given values twice gives the same subscription.
    return Call("PATCH", path("webhooks", webhook_id), Webhook.from_api, json=body,
                idempotent=True)


def delete_webhook(webhook_id: str) -> Call[None]:
    return Call("DELETE", path("webhooks", webhook_id), _nothing)


def resume_webhook(webhook_id: str) -> Call[WebhookResumed]:
    return Call("POST", path("webhooks", webhook_id, "resume"),
                lambda body: WebhookResumed(webhook=Webhook.from_api(body["webhook"]),
                                            deliveries_queued=int(body["deliveries_queued"])))


def rotate_webhook_secret(webhook_id: str) -> Call[WebhookSecret]:
    return Call("POST", path("webhooks", webhook_id, "rotate-secret"), WebhookSecret.from_api)


def webhook_deliveries(webhook_id: str, status: str | None,
                       limit: int | None) -> Call[list[Delivery]]:
    params = drop_none({"status": status, "limit": limit})
    return Call("GET", path("webhooks", webhook_id, "deliveries"),
                lambda body: [Delivery.from_api(d) for d in body["deliveries"]],
                params=params or None)


def redeliver(webhook_id: str, delivery_id: str) -> Call[Delivery]:
    return Call("POST", path("webhooks", webhook_id, "deliveries", delivery_id, "redeliver"),
                Delivery.from_api)


# --- mail -----------------------------------------------------------------------------------------


def mail_path(connection_id: str, *rest: str) -> str:
    """``/api/platform/connections/<id>/mail/…``; ids are escaped, the words are literal."""
    return path("connections", connection_id, "mail") + "".join(f"/{segment(p)}" for p in rest)


def list_mail(connection_id: str, folder: str | None, unread: bool | None, sender: str | None,
              since: dt.datetime | None, query: str | None, limit: int | None,
              cursor: str | None) -> Call[MailPage]:
    params = drop_none({"folder": folder, "from": sender, "q": query, "limit": limit,
                        "cursor": cursor,
                        "unread": None if unread is None else str(unread).lower(),
                        "since": since.isoformat() if since else None})
    return Call("GET", mail_path(connection_id, "messages"), MailPage.from_api, params=params)


def get_mail(connection_id: str, message_id: str) -> Call[MailMessage]:
    return Call("GET", mail_path(connection_id, "messages", message_id), MailMessage.from_api)


def send_mail(connection_id: str, to: list[MailAddress], subject: str, text: str | None,
              html: str | None, cc: list[MailAddress], bcc: list[MailAddress],
              attachments: list[tuple[str, str, bytes]],
              in_reply_to: str | None) -> Call[SentMail]:
    body = drop_none({
        "to": [a.to_api() for a in to], "cc": [a.to_api() for a in cc],
        "bcc": [a.to_api() for a in bcc], "subject": subject, "text": text, "html": html,
        "in_reply_to": in_reply_to,
        "attachments": [{"filename": name, "content_type": kind,
                         "content_base64": base64.b64encode(data).decode()}
                        for name, kind, data in attachments]})
    # Not idempotent: sent twice, the mail would go out twice.
    return Call("POST", mail_path(connection_id, "messages"), SentMail.from_api, json=body)


def update_mail(connection_id: str, message_id: str, read: bool | None,
                folder: str | None) -> Call[MailMessage]:
    return Call("PATCH", mail_path(connection_id, "messages", message_id), MailMessage.from_api,
                json=drop_none({"read": read, "folder_id": folder}))


def mail_folders(connection_id: str) -> Call[list[MailFolder]]:
    return Call("GET", mail_path(connection_id, "folders"), MailFolder.list_from_api)


def mail_events(connection_id: str) -> Call[MailEvents]:
    return Call("GET", mail_path(connection_id, "events"), MailEvents.from_api)


def enable_mail_events(connection_id: str, folders: list[str] | None) -> Call[MailEvents]:
    # A PUT: sent twice, the mailbox is followed once.
    return Call("PUT", mail_path(connection_id, "events"), MailEvents.from_api,
                json=drop_none({"folders": folders}))


def disable_mail_events(connection_id: str) -> Call[MailEvents]:
    return Call("DELETE", mail_path(connection_id, "events"), MailEvents.from_api)
