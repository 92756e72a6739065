"""Checks shared by the API, the dashboard and the CLI, so they refuse the same things."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

import idna

from xkit.errors import InvalidInput

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# C0 controls and DEL. PostgreSQL cannot store a NUL in text at all; the others only ever
# arrive by mistake (or by someone probing) in a value typed into one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# ...multi-line text (a Markdown description) may hold tabs and line breaks.
_CONTROL_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# What a DNS host name is made of once IDNA-encoded (RFC 1035 §2.3.4: labels of at most 63,
# names of at most 253); browsers also accept '_' in host names.
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
MAX_HOST_LENGTH = 253
_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_slug(value: str, *, field: str = "slug") -> str:
    if not SLUG_PATTERN.match(value):
        raise InvalidInput(
            f"{field} must be 1-64 lowercase letters, digits or '-', "
            "not starting or ending with '-'",
            details={"field": field},
        )
    return value


def check_text(value: str, *, field: str, maximum: int, multiline: bool = False) -> str:
    """Text a person typed (a name, a label, a description): at most ``maximum`` characters
    and no control characters; ``multiline`` text may hold tabs and line breaks."""
    pattern = _CONTROL_BUT_WHITESPACE if multiline else _CONTROL
    if pattern.search(value):
        raise InvalidInput(
            f"{field} must not contain control characters"
            + ("" if multiline else " (such as line breaks or tabs)"),
            details={"field": field},
        )
    return check_length(value, field=field, maximum=maximum)


def check_origin(value: str, *, field: str = "allowed_origins") -> str:
    """An origin is scheme://host[:port] with nothing after it (CORS and postMessage compare
    origins exactly, so a trailing slash or a path would silently never match).

    Returned the way browsers serialise an origin, so the comparison can work: lower case,
    an international host name in its ``xn--`` form, and no port when it is the scheme's
    default."""
    parts = _split(value, field)
    if (
        parts.scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise InvalidInput(
            f"{_shown(value)!r} is not an origin like https://app.example.com",
            details={"field": field},
        )
    try:
        port = parts.port
    except ValueError:  # "Port out of range 0-65535", or not a number
        port = 0
    if port == 0:
        raise InvalidInput(
            f"{_shown(value)!r} has an invalid port: use 1-65535, or none",
            details={"field": field},
        )
    host = _origin_host(parts.hostname, value, field)
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


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


def _origin_host(hostname: str, value: str, field: str) -> str:
    """The host of an origin as browsers write it, or InvalidInput saying what is wrong."""
    refused = InvalidInput(
        f"{_shown(value)!r} does not have a valid host name", details={"field": field}
    )
    if ":" in hostname:  # urlsplit took the brackets off an IPv6 literal
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            raise refused from None
    if len(hostname) > MAX_HOST_LENGTH:
        raise InvalidInput(
            f"the host name in {_shown(value)!r} is longer than {MAX_HOST_LENGTH} characters",
            details={"field": field},
        )
    if not hostname.isascii():
        try:  # UTS #46 without transitional mapping: what the WHATWG URL standard does
            hostname = idna.encode(hostname, uts46=True, transitional=False).decode()
        except idna.IDNAError:
            raise refused from None
    labels = hostname.split(".")
    if len(hostname) > MAX_HOST_LENGTH or not all(_HOST_LABEL.match(label) for label in labels):
        raise refused
    return hostname


def _shown(value: str, limit: int = 80) -> str:
    """Enough of a refused value to recognise it, never a page of it."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _split(value: str, field: str) -> SplitResult:
    if _CONTROL.search(value.strip()):
        raise InvalidInput(
            f"{field} must not contain control characters", details={"field": field}
        )
    try:
        return urlsplit(value.strip())
    except ValueError:  # "https://[oops" and the like
        raise InvalidInput(
            f"{_shown(value)!r} is not a valid URL", details={"field": field}
        ) from None
