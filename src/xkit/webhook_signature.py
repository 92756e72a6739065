"""The webhook signature: what xkit's worker puts on a delivery and what a receiver checks.

``Xkit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. The
timestamp is inside the signed text, so a receiver that refuses old timestamps refuses
replayed deliveries too. One module for both sides, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Xkit-Signature"
EVENT_ID_HEADER = "Xkit-Event-Id"
EVENT_TYPE_HEADER = "Xkit-Event-Type"
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """A webhook's signature is missing, malformed, wrong or too old."""


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Xkit-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


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
