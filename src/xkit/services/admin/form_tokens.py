"""Tokens for the dashboard's public forms (login, first-run setup), where there is no session
yet to hold a CSRF token: a double-submit cookie whose value xkit signed.

Unsigned, any cookie and field that matched were accepted, so a site on a sibling subdomain
could toss a pair of its choosing into a browser and log it into the attacker's account (login
CSRF). The signature is an HMAC with a key derived from the keyring, so every replica accepts
what any other issued and no key needs storing; each token carries its time, so one obtained
from xkit is good for a day at most.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from xkit.crypto import Keyring

PURPOSE = b"xkit admin form token v1"
LIFETIME_SECONDS = 24 * 3600
MAX_LENGTH = 128


class FormTokenSigner:
    """Issues and checks ``<issued-at>.<nonce>.<mac>`` tokens; every loaded key verifies."""

    def __init__(self, keyring: Keyring) -> None:
        self._keys = [keyring.derive_key(PURPOSE, key_id) for key_id in keyring.key_ids]

    def issue(self) -> str:
        body = f"{int(time.time())}.{secrets.token_urlsafe(24)}"
        return f"{body}.{_mac(self._keys[0], body)}"

    def is_valid(self, token: str | None) -> bool:
        """Signed by one of our keys and issued within the lifetime; constant-time."""
        if not token or len(token) > MAX_LENGTH or token.count(".") != 2:
            return False
        body, mac = token.rsplit(".", 1)
        issued = body.split(".", 1)[0]
        if not issued.isdigit() or not 0 <= time.time() - int(issued) <= LIFETIME_SECONDS:
            return False
        return any(hmac.compare_digest(_mac(key, body), mac) for key in self._keys)


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
