"""What a provider said when it refused, and whether trying again could help."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from xkit.dotpath import dig
from xkit.outbound import AddressRefused

# RFC 6749 §5.2 codes that point at the developer's app registration or at xkit's request, not
# at the user's grant: reconnecting cannot fix them, so they must not mark a connection broken
# (an expired client secret would otherwise "break" every connection of a connector at once).
# ADDRESS_REFUSED (the outbound policy refused the endpoint's address) is one of them: the
# connector's configuration is at fault, and nothing was sent.
ADDRESS_REFUSED = "provider_address_refused"
CLIENT_PROBLEM_CODES = frozenset(
    {"invalid_client", "invalid_request", "invalid_scope", "unsupported_grant_type",
     ADDRESS_REFUSED}
)


@dataclass
class ProviderError(Exception):
    """A failed call to a provider.

    ``code`` is the RFC 6749 error (or ours, such as ``timeout``); a template may find a more
    specific one in ``description`` (see ``ProviderTemplate.describe_error``). ``transient``
    errors (timeouts, connection failures, 5xx, 429, garbage answers) say nothing about the
    grant.
    """

    code: str
    description: str = ""
    oauth_error: str | None = None
    http_status: int | None = None
    transient: bool = False
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.description}" if self.description else self.code

    @property
    def grant_revoked(self) -> bool:
        """The grant is gone (``invalid_grant`` and kin, or a provider's own code for it): the
        user must connect again. Unknown permanent codes count as revoked, so that a user is
        offered *Reconnect* rather than a connection that fails forever."""
        return not self.transient and (self.oauth_error or self.code) not in CLIENT_PROBLEM_CODES


#: Where RFC 6749 puts a refusal's code and description; a template may name other places.
RFC6749_ERROR_PATHS: tuple[Sequence[str], Sequence[str]] = (("error",), ("error_description",))


def from_error_fields(fields: dict[str, Any], *, http_status: int | None = None,
                      paths: tuple[Sequence[str], Sequence[str]] = RFC6749_ERROR_PATHS,
                      ) -> ProviderError:
    """Build an error from a refusal's code and description (a token response or a redirect),
    read at ``paths``: (code paths, description paths), each tried in order."""
    oauth_error = str(error_code(fields, paths[0]) or "unknown_error")[:200]
    description = str(_first_scalar(fields, paths[1]) or "")[:1000]
    transient = oauth_error in {"temporarily_unavailable", "server_error"}
    return ProviderError(
        code=oauth_error,
        description=description,
        oauth_error=oauth_error,
        http_status=http_status,
        transient=transient,
    )


def error_code(body: Any, paths: Sequence[str]) -> str | None:
    """The refusal code a provider's JSON answer holds at one of ``paths``, if any: a string,
    or a number (some providers number their codes)."""
    value = _first_scalar(body, paths)
    return None if value is None else str(value)


def _first_scalar(body: Any, paths: Sequence[str]) -> str | int | None:
    for path in paths:
        value = dig(body, path)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return value
    return None


def from_response(response: httpx.Response,
                  paths: tuple[Sequence[str], Sequence[str]] = RFC6749_ERROR_PATHS,
                  ) -> ProviderError:
    """Classify a non-2xx (or unreadable) token endpoint answer; a template's ``paths`` say
    where its provider puts the code and description."""
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if response.status_code == 429 or response.status_code >= 500:
        error = _json_error(response, paths)
        return ProviderError(
            code=error.code if error else f"http_{response.status_code}",
            description=error.description if error else "the provider is unavailable",
            oauth_error=error.oauth_error if error else None,
            http_status=response.status_code,
            transient=True,
            retry_after=retry_after,
        )
    error = _json_error(response, paths)
    if error is not None:
        return error
    return ProviderError(
        code="invalid_response",
        http_status=response.status_code,
        description=f"the provider answered HTTP {response.status_code} without an OAuth error",
        transient=True,
    )


def from_transport(exc: httpx.HTTPError) -> ProviderError:
    if isinstance(exc, AddressRefused):
        # Not transient: retrying cannot help, and nothing must be tried again and again.
        return ProviderError(
            code=ADDRESS_REFUSED,
            description="the provider's address is not a public one; an operator can allow "
                        "private networks with XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS",
        )
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection_failed"
    return ProviderError(
        code=kind,
        description=f"could not reach the provider ({type(exc).__name__})",
        transient=True,
    )


def _json_error(response: httpx.Response,
                paths: tuple[Sequence[str], Sequence[str]]) -> ProviderError | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and error_code(body, paths[0]) is not None:
        return from_error_fields(body, http_status=response.status_code, paths=paths)
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
