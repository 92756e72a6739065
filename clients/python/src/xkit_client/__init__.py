"""The Python SDK for xkit's Platform API: ``Xkit`` (sync) and ``AsyncXkit`` (async).

    from xkit_client import Xkit, ReconnectRequired

    with Xkit("https://xkit.example.com", "xkit_pk_…", "xkit_sk_…") as xkit:
        context = xkit.create_context("user-42", name="Ada")     # context.token → xkit.js
        try:
            token = xkit.get_access_token("user-42", "outlook-email")
        except ReconnectRequired as error:
            ...  # ask the user to reconnect; error.error_code says why

The guide, with every method: docs/python-sdk.md in xkit's repository.
"""

from xkit_client._async import AsyncXkit
from xkit_client._sync import Xkit
from xkit_client.errors import (
    ERROR_HEADER,
    AuthenticationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProviderRefused,
    ProviderUnavailable,
    ReconnectRequired,
    Unavailable,
    UnsafeProxyPath,
    XkitConnectionError,
    XkitError,
)
from xkit_client.models import (
    Authorization,
    Connection,
    ConnectionDeleted,
    ConnectionPage,
    ConnectionWithToken,
    Connector,
    ConnectorProblem,
    Context,
    ContextPage,
    ContextWithToken,
    CreatedWebhook,
    Delivery,
    DeliveryCounts,
    EventError,
    MailAddress,
    MailAttachment,
    MailEvents,
    MailFolder,
    MailMessage,
    MailPage,
    Revocation,
    SentMail,
    Webhook,
    WebhookEvent,
    WebhookResumed,
    WebhookSecret,
)
from xkit_client.webhooks import (
    SIGNATURE_HEADER,
    WebhookVerificationError,
    construct_event,
    sign_webhook,
    verify_webhook,
)

__version__ = "0.1.0"

__all__ = [
    "ERROR_HEADER",
    "SIGNATURE_HEADER",
    "AsyncXkit",
    "AuthenticationError",
    "Authorization",
    "Connection",
    "ConnectionDeleted",
    "ConnectionPage",
    "ContextPage",
    "ConnectionWithToken",
    "Connector",
    "ConnectorProblem",
    "Context",
    "ContextWithToken",
    "CreatedWebhook",
    "Delivery",
    "DeliveryCounts",
    "MailAddress",
    "MailAttachment",
    "MailEvents",
    "MailFolder",
    "MailMessage",
    "MailPage",
    "SentMail",
    "EventError",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "ProviderRefused",
    "ProviderUnavailable",
    "ReconnectRequired",
    "Revocation",
    "Unavailable",
    "UnsafeProxyPath",
    "Webhook",
    "WebhookEvent",
    "WebhookResumed",
    "WebhookSecret",
    "WebhookVerificationError",
    "Xkit",
    "XkitConnectionError",
    "XkitError",
    "construct_event",
    "sign_webhook",
    "verify_webhook",
]
