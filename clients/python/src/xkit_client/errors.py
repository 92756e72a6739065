"""The exceptions, named after who has to act.

Every answer xkit itself makes with an error carries an ``Xkit-Error: <code>`` header, so the
SDK can tell xkit's own answer from a provider's one that passed through the proxy: only the
former are raised; a provider's 4xx or 5xx stays a response for you to read.
"""

from __future__ import annotations

from typing import Any

import httpx

#: The header xkit puts on its own error answers (never on a provider's, which it strips).
ERROR_HEADER = "Xkit-Error"


class XkitError(Exception):
    """An error answer from xkit: ``status``, machine ``code``, human ``message``, ``details``."""

    def __init__(self, status: int, code: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}


class XkitConnectionError(XkitError):
    """xkit could not be reached: refused connection, DNS failure, timeout, a dropped
    connection. ``status`` is 0; the httpx exception is the ``__cause__``."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "connection_error", message)


class AuthenticationError(XkitError):
    """401: the API key is missing, wrong or revoked. Fix the key."""


class InvalidRequest(XkitError):
    """400 or 422: the call itself is wrong; ``details`` says where."""


class PermissionDenied(XkitError):
    """403: not allowed. ``mail_scope_missing``: the connector's scopes lack the permission
    in ``details["scope"]``; add it to the connector, then the user reconnects."""


class NotFound(XkitError):
    """404: no such context, connection, connector or webhook on this platform."""


class ReconnectRequired(XkitError):
    """409 ``reconnect_required``: the user must connect again (the grant was revoked or
    expired); the catalog shows them *Reconnect*."""

    @property
    def error_code(self) -> str | None:
        """The provider's code for why, e.g. ``AADSTS70008``."""
        value = self.details.get("error_code")
        return value if isinstance(value, str) else None


class ProviderRefused(XkitError):
    """502 ``provider_refused``: the provider refused the connector's own app credentials (an
    expired or wrong client secret). Fix the connector; users need not reconnect."""


class Unavailable(XkitError):
    """503, 429 (``mail_throttled``) or the proxy's 502 ``provider_unreachable``: something
    failed for now; retrying after ``retry_after`` seconds may work."""

    @property
    def retry_after(self) -> float:
        value = self.details.get("retry_after", 5)
        return float(value) if isinstance(value, int | float) else 5.0


class ProviderUnavailable(Unavailable):
    """The provider is failing, slow or throttling for now; the connection is fine."""


class UnsafeProxyPath(ValueError):
    """A proxy path that could leave the proxy: ``.``/``..`` segments (percent-encoded too) or
    backslashes. httpx resolves dot segments before sending, so ``../../contexts/…`` would reach
    the Platform API itself with the secret key; refused here, before anything is sent."""


_PROVIDER_UNAVAILABLE = {"provider_unavailable", "provider_unreachable", "provider_timeout"}


def error_from(response: httpx.Response) -> XkitError:
    """The exception for an error answer of xkit's (status >= 400)."""
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
        details = error.get("details")
    except (ValueError, KeyError, TypeError):
        code = response.headers.get(ERROR_HEADER) or "http_error"
        message, details = response.text[:200], None
    if not isinstance(details, dict):
        details = {"problems": details} if details else {}
    retry_after = response.headers.get("retry-after")
    if retry_after and "retry_after" not in details and retry_after.isdigit():
        details["retry_after"] = int(retry_after)
    status = response.status_code
    kind: type[XkitError] = XkitError
    if status == 401:
        kind = AuthenticationError
    elif status in (400, 422):
        kind = InvalidRequest
    elif status == 403:
        kind = PermissionDenied
    elif status == 404:
        kind = NotFound
    elif status == 409 and code == "reconnect_required":
        kind = ReconnectRequired
    elif code == "provider_refused":
        kind = ProviderRefused
    elif code in _PROVIDER_UNAVAILABLE:
        kind = ProviderUnavailable
    elif status in (429, 503):
        kind = Unavailable
    return kind(status, code, message, details)


def is_xkit_error(response: httpx.Response) -> bool:
    """Whether a proxied answer was made by xkit rather than passed through from the provider."""
    return response.status_code >= 400 and ERROR_HEADER in response.headers
