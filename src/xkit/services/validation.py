"""Checks shared by the API, the dashboard and the CLI, so they refuse the same things."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from xkit.errors import InvalidInput

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def check_slug(value: str, *, field: str = "slug") -> str:
    if not SLUG_PATTERN.match(value):
        raise InvalidInput(
            f"{field} must be 1-64 lowercase letters, digits or '-', "
            "not starting or ending with '-'",
            details={"field": field},
        )
    return value


def check_origin(value: str, *, field: str = "allowed_origins") -> str:
    """An origin is scheme://host[:port] with nothing after it (CORS and postMessage compare
    origins exactly, so a trailing slash or a path would silently never match)."""
    parts = _split(value, field)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise InvalidInput(
            f"{value!r} is not an origin like https://app.example.com", details={"field": field}
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def check_http_url(value: str, *, field: str) -> str:
    check_length(value.strip(), field=field, maximum=2048)
    parts = _split(value, field)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{field} must be an http(s) URL", details={"field": field})
    return value.strip()


def check_length(value: str, *, field: str, maximum: int) -> str:
    """Column limits as a clear 422, never as a database error on PostgreSQL."""
    if len(value) > maximum:
        raise InvalidInput(
            f"{field} must be at most {maximum} characters", details={"field": field}
        )
    return value


def _split(value: str, field: str):  # type: ignore[no-untyped-def]
    try:
        return urlsplit(value.strip())
    except ValueError:  # "https://[oops" and the like
        raise InvalidInput(f"{value!r} is not a valid URL", details={"field": field}) from None
