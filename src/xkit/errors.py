"""The errors the domain raises. Each maps to one HTTP status and a stable machine code.

Services raise these; the HTTP layers turn them into ``{"error": {"code", "message"}}``.
Messages are written for the developer reading them and never contain a secret.
"""

from __future__ import annotations

from typing import Any


class XkitError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class InvalidInput(XkitError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(XkitError):
    status_code = 401
    code = "unauthorized"


class Forbidden(XkitError):
    status_code = 403
    code = "forbidden"


class NotFound(XkitError):
    status_code = 404
    code = "not_found"


class Conflict(XkitError):
    status_code = 409
    code = "conflict"


class ServiceUnavailable(XkitError):
    """Something xkit depends on (a provider) failed for now; retrying later may work."""

    status_code = 503
    code = "unavailable"


class ConfigurationError(Exception):
    """The server cannot start as configured. The message says what to change."""
