"""The webhook signature: what xkit's worker puts on a delivery and what a receiver checks.

``Xkit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. The
timestamp is inside the signed text, so a receiver that refuses old timestamps refuses
replayed deliveries too. One module for both sides, so they cannot drift apart.

Every delivery is also signed the Standard Webhooks way (https://www.standardwebhooks.com):
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` of
``"<id>.<timestamp>.<body>"``, so receivers can verify with the maintained ``standardwebhooks``
packages instead of a recipe. Its key is the same secret's bytes, handed out as ``whsec_`` +
their base64 (:func:`standard_secret`): one secret, both schemes, existing receivers untouched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

SIGNATURE_HEADER = "Xkit-Signature"
EVENT_ID_HEADER = "Xkit-Event-Id"
EVENT_TYPE_HEADER = "Xkit-Event-Type"
DEFAULT_TOLERANCE_SECONDS = 300
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"


class WebhookVerificationError(Exception):
    """A webhook's signature is missing, malformed, wrong or too old."""


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Xkit-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def standard_secret(secret: str) -> str:
    """The Standard Webhooks form of ``secret``: ``whsec_`` + base64 of the bytes that also key
    ``Xkit-Signature``, which is what ``standardwebhooks``' ``Webhook(...)`` takes."""
    return STANDARD_SECRET_PREFIX + base64.b64encode(secret.encode()).decode()


def sign_standard_webhook(secret: str, message_id: str, body: bytes, timestamp: int) -> str:
    """The ``webhook-signature`` header value (Standard Webhooks, ``v1``) for ``body``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_webhook(
    body: bytes,
    signature_header: str | None,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a delivery's signature and age; raises :class:`WebhookVerificationError`.

    ``body`` must be the raw bytes received: re-serialised JSON would not match."""
    if not signature_header:
        raise WebhookVerificationError(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in signature_header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookVerificationError("malformed signature header") from None
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookVerificationError("malformed signature header")
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("the delivery is too old (or the clocks disagree)")
    expected = sign_webhook(secret, body, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, given) for given in candidates):
        raise WebhookVerificationError("the signature does not match")
