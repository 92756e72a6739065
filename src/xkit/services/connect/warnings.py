"""Warnings on a connection that works now but will not keep working as the developer expects.

A connect can succeed and still be short of something: asked for ``offline_access``, the
provider may issue no refresh token (an OpenID Connect provider grants offline access only with
``prompt=consent``, OIDC Core section 11). Failing the connect would punish the end user for the
developer's configuration, and saying nothing leaves a ``409 reconnect_required`` at the first
expiry as the only clue. So the connect succeeds, and the connection carries a warning the
dashboard, the browser API (xkit.js) and the Platform API show until a reconnect settles it.

Warnings are decided once, when the tokens arrive, and kept on the authorization (in its
``extras`` under a key no template extra can have, since extra names start with a letter): a
reader needs no refresh token, which most readers never load, to show them.
"""

from __future__ import annotations

import logging
from typing import Any

from xkit.oauth import TokenSet
from xkit.services.tokens.records import GrantRecord

log = logging.getLogger("xkit.flow")

#: The key of ``authorizations.extras`` holding the warnings (never handed to a backend as an
#: extra; see :func:`xkit.services.connect.extras.for_backend`).
WARNINGS_KEY = "_warnings"

NO_REFRESH_TOKEN = "no_refresh_token"
OFFLINE_SCOPE = "offline_access"

MESSAGES = {
    NO_REFRESH_TOKEN: (
        "offline_access was asked for, but the provider issued no refresh token, so the "
        "connection stops working when its access token expires and the user must reconnect. "
        "OpenID Connect providers grant offline_access only with prompt=consent; add it to the "
        "connector's extra authorization parameters, then reconnect."),
}


def on_connect(requested_scopes: list[str], tokens: TokenSet | None) -> list[dict[str, str]]:
    """The warnings a new grant deserves: ``no_refresh_token`` when ``offline_access`` was
    requested and the token answer has no refresh token."""
    if tokens is None or tokens.refresh_token or OFFLINE_SCOPE not in requested_scopes:
        return []
    return [{"code": NO_REFRESH_TOKEN, "message": MESSAGES[NO_REFRESH_TOKEN]}]


def keep(extras: dict[str, Any], found: list[dict[str, str]], *, authorization_id: str,
         connector: str) -> dict[str, Any]:
    """``extras`` with ``found`` as the authorization's warnings (none: the key removed), each
    logged once at WARNING — here, where it is decided, never on reads."""
    kept = {k: v for k, v in extras.items() if k != WARNINGS_KEY}
    for warning in found:
        log.warning("authorization %s (connector %s) connected with a warning (%s). %s",
                    authorization_id, connector, warning["code"], warning["message"])
    if found:
        kept[WARNINGS_KEY] = found
    return kept


def of(authorization: GrantRecord) -> list[dict[str, str]]:
    """The warnings kept on an authorization, as the APIs and the dashboard show them."""
    kept = authorization.extras.get(WARNINGS_KEY) if authorization.status == "active" else None
    if not isinstance(kept, list):
        return []
    return [{"code": str(w.get("code", "")), "message": str(w.get("message", ""))}
            for w in kept if isinstance(w, dict)]
