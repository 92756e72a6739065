"""Checking xkit's webhook deliveries: ``verify_webhook`` and ``construct_event``.

``Xkit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. The timestamp
is inside the signed text, so refusing old timestamps refuses replayed deliveries too. The
server signs with its own copy of this scheme; the test suite checks the two agree on real
deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from xkit_client.models import WebhookEvent

SIGNATURE_HEADER = "Xkit-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """A webhook's signature is missing, malformed, wrong or too old, or its body is not an
    event: answer the request with a 400."""


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        # A framework that hands over text decoded the raw bytes as UTF-8; encode them back.
        return body.encode("utf-8")
    raise WebhookVerificationError(
        f"the body must be the raw request body as bytes (or str), not {type(body).__name__}")


def sign_webhook(body: bytes | str, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Xkit-Signature`` value xkit would send for ``body`` at ``timestamp`` (default
    now): for testing your receiver. Arguments in ``verify_webhook``'s order."""
    sent_at = int(time.time()) if timestamp is None else int(timestamp)
    signed = f"{sent_at}.".encode() + _as_bytes(body)
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={sent_at},v1={digest}"


def verify_webhook(
    body: bytes | str,
    signature_header: str | None,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a delivery's signature and age; raises :class:`WebhookVerificationError`.

    ``body`` must be the raw body received (bytes, or the same text as ``str``): re-serialised
    JSON would not match."""
    raw = _as_bytes(body)
    if not isinstance(signature_header, str) or not signature_header:
        raise WebhookVerificationError(f"no {SIGNATURE_HEADER} header")
    if not isinstance(secret, str) or not secret:
        raise WebhookVerificationError("no signing secret to check against")
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
    expected = sign_webhook(raw, secret, timestamp=timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, given) for given in candidates):
        raise WebhookVerificationError("the signature does not match")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def construct_event(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> WebhookEvent:
    """Verify a delivery and return its event, typed. ``headers`` are the request's headers as
    they came (any letter case); raises :class:`WebhookVerificationError` unless xkit signed
    this body with ``secret`` within ``tolerance_seconds``."""
    raw = _as_bytes(body)
    verify_webhook(raw, _header(headers, SIGNATURE_HEADER), secret,
                   tolerance_seconds=tolerance_seconds)
    try:
        document = json.loads(raw)
        return WebhookEvent.from_api(document)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WebhookVerificationError("the body is not an xkit event") from None
