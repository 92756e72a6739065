"""Binding a connect flow to the browser xkit sent to the provider (RFC 6749 §10.12).

``state`` says which authorization a callback is for, not who brings it: anyone can take the
provider URL a popup was sent to, get a victim to open it and approve, and the victim's account
would end up on the attacker's connection. So whenever xkit sends a browser to the provider it
also gives that browser a random value in a cookie on xkit's own origin, and keeps only the
value's hash on the authorization. The callback completes only when the browser it arrives in
presents the value.

One cookie per authorization (its id is in the name), so several connections in flight in one
browser don't overwrite each other's. The cookie is HttpOnly, scoped to the platform's callback
path, ``SameSite=Lax`` (it must come back on the provider's top-level redirect, which is a
cross-site navigation) and ``Secure`` when xkit is reached over HTTPS; it lives as long as the
state does.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from xkit.crypto import fingerprint
from xkit.db.models import Authorization

COOKIE_PREFIX = "xkit_flow_"
MISMATCH_CODE = "browser_mismatch"
MISMATCH_MESSAGE = ("This sign-in was started in another browser, so it cannot be completed "
                    "here. Go back to the app in the browser you started from and click "
                    "Connect again.")


@dataclass(frozen=True)
class BrowserBinding:
    """The cookie that goes with one redirect to the provider: set it in the response."""

    authorization_id: str
    value: str

    @property
    def cookie_name(self) -> str:
        return cookie_name(self.authorization_id)


def cookie_name(authorization_id: str) -> str:
    return f"{COOKIE_PREFIX}{authorization_id}"


def cookie_path(platform_slug: str) -> str:
    """Only the platform's callback reads the cookie, so no other page is sent it."""
    return f"/p/{platform_slug}/callback"


def bind(authorization: Authorization) -> BrowserBinding:
    """A fresh value for the browser about to be sent to the provider; its hash replaces any
    earlier one (each leg of a multi-leg flow gets its own)."""
    value = secrets.token_urlsafe(32)
    authorization.browser_binding_hash = fingerprint(value)
    return BrowserBinding(authorization.id, value)


def presented_by(authorization: Authorization, cookies: Mapping[str, str]) -> bool:
    """Whether the browser with these ``cookies`` is the one the authorization was bound to.
    An authorization bound to no browser matches none (fail closed)."""
    expected = authorization.browser_binding_hash
    value = cookies.get(cookie_name(authorization.id))
    if not expected or not value:
        return False
    return hmac.compare_digest(fingerprint(value), expected)
