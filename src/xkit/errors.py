"""The errors the domain raises. Each maps to one HTTP status and a stable machine code.

Services raise these; the HTTP layers turn them into ``{"error": {"code", "message"}}``.
Messages are written for the developer reading them and never contain a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


class FieldErrors:
    """The problems of a whole form, gathered so that one answer names all of them.

    A person who fixes one field and submits only to be told about the next one wastes a round
    trip each time. Run each field's check inside :meth:`field`; :meth:`raise_if_any` then
    raises the first problem (its class and code, so a taken slug stays a 409) with every
    problem in ``details["errors"]`` (field → message) when there are several, the shape the
    JWT issuer form already used.
    """

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}
        self._first: InvalidInput | Conflict | None = None

    @contextmanager
    def field(self, default: str) -> Iterator[None]:
        """Check one field; a refusal is recorded (under the field it names) instead of
        raised."""
        try:
            yield
        except (InvalidInput, Conflict) as exc:
            self.errors.setdefault(str(exc.details.get("field") or default), exc.message)
            if self._first is None:
                self._first = exc

    def add(self, field: str, message: str, *, code: str | None = None) -> None:
        self.errors.setdefault(field, message)
        if self._first is None:
            self._first = InvalidInput(message, code=code, details={"field": field})

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        """Raise the first problem; with more than one, all of them in ``details["errors"]``
        (a single problem keeps the plain ``{"field": ...}`` details API clients know)."""
        if self._first is not None:
            first = self._first
            if len(self.errors) > 1:
                first.details = {**first.details, "errors": dict(self.errors)}
            raise first
