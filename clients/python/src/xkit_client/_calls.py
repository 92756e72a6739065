"""What both clients share: each Platform API call as a description (method, path, query,
body, whether it may be sent twice, how to read the answer), the retry rules, and the proxy's
path check. ``Xkit`` and ``AsyncXkit`` only differ in how they send, so they cannot drift apart.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote

import httpx

from xkit_client.errors import ERROR_HEADER, UnsafeProxyPath

T = TypeVar("T")

API = "/api/platform"
#: Methods that mean the same thing when sent twice (RFC 9110, 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRIED_STATUSES = frozenset({429, 503})
#: xkit's own codes for a provider it could not reach: nothing was done, so a retry is safe.
RETRIED_CODES = frozenset({"provider_unreachable", "provider_timeout", "provider_unavailable"})
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RETRY_WAIT = 10.0
USER_AGENT = "xkit-python"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One Platform API call: sent by either client, read by ``parse``."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] | None = None
    json: Any = None
    #: May be sent again after a transport error or a 429/503 (``create_context`` is an
    #: upsert, so it may, although it is a POST).
    idempotent: bool | None = None

    @property
    def retryable(self) -> bool:
        return self.method in IDEMPOTENT_METHODS if self.idempotent is None else self.idempotent


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` more attempts at most; a wait asked for (``Retry-After``) longer than
    ``max_wait`` seconds is not waited for: the error goes to the caller, who can schedule it."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_wait: float = DEFAULT_MAX_RETRY_WAIT

    def backoff(self, attempt: int) -> float:
        """0.25 s, 0.5 s, 1 s … with jitter, so many clients retrying do not arrive together."""
        delay: float = min(self.max_wait, 0.25 * 2.0**attempt)
        return delay * (0.5 + random.random() / 2)

    def after_transport_error(self, exc: httpx.TransportError, request: httpx.Request,
                              retryable: bool, attempt: int) -> float | None:
        """Seconds to wait before sending again, or None to give up. A connection that could
        not be opened carried nothing, so any call may be retried then; after a timeout or a
        dropped connection the request may have arrived, so only an idempotent one is."""
        if attempt >= self.max_retries or not _replayable(request):
            return None
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        return self.backoff(attempt) if (retryable or never_sent) else None

    def after_response(self, response: httpx.Response, retryable: bool, attempt: int, *,
                       proxied: bool = False) -> float | None:
        """Seconds to wait before sending again, or None to keep this answer.

        xkit's own 429 and 503 (and the proxy's 502 for a provider it could not reach) are
        retried; a provider's answer through the proxy only when it is a 429 or 503 that says
        when to come back (``Retry-After``)."""
        if attempt >= self.max_retries or not retryable or response.status_code < 400:
            return None
        if not _replayable(response.request):
            return None
        xkit_made = not proxied or ERROR_HEADER in response.headers
        asked = retry_after_seconds(response.headers.get("retry-after"))
        if xkit_made:
            code = response.headers.get(ERROR_HEADER, "")
            if response.status_code not in RETRIED_STATUSES and code not in RETRIED_CODES:
                return None
        elif response.status_code not in RETRIED_STATUSES or asked is None:
            return None
        wait = asked if asked is not None else self.backoff(attempt)
        return wait if wait <= self.max_wait else None


def _replayable(request: httpx.Request) -> bool:
    """A body given as a stream (a generator, a file being read) can be sent only once."""
    return isinstance(request.stream, httpx.ByteStream)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110, 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def client_options(base_url: str, publishable_key: str, secret_key: str,
                   timeout: float | httpx.Timeout) -> dict[str, Any]:
    return {
        "base_url": base_url.rstrip("/"),
        "auth": (publishable_key, secret_key),
        "timeout": timeout,
        "headers": {"User-Agent": USER_AGENT},
    }


def request_options(options: dict[str, Any]) -> dict[str, Any]:
    """The httpx options a proxied call may carry (those ``build_request`` takes)."""
    allowed = {"content", "data", "files", "json", "params", "headers", "cookies", "timeout",
               "extensions"}
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"unexpected option(s) for a proxied call: {', '.join(sorted(unknown))}")
    return options


def subject_headers(options: dict[str, Any], subject: str | None) -> dict[str, Any]:
    """``subject``: service-account connections act as that user for this call."""
    if subject is None:
        return options
    headers = dict(options.get("headers") or {})
    headers["X-Xkit-Subject"] = subject
    return {**options, "headers": headers}


def segment(value: str) -> str:
    """One URL path segment: an id holding '/', '?' or '#' must not change the route."""
    return quote(str(value), safe="")


def proxy_path(connection_id: str, path: str) -> str:
    """The proxy route for ``path``, which must stay below the connection's API base URL.

    An app may build ``path`` from its own user's input (a folder name, a file path), so a
    ``..`` there must not climb to ``/api/platform/…``: httpx would resolve it before sending,
    past the server's own check. Each segment is decoded until it stops changing, so ``%2e%2e``
    and ``%252e%252e`` are caught too."""
    relative = path.lstrip("/")
    route = relative.split("?", 1)[0].split("#", 1)[0]
    for part in route.split("/"):
        decoded = part
        while (again := unquote(decoded)) != decoded:
            decoded = again
        if "\\" in decoded or any(piece in (".", "..") for piece in decoded.split("/")):
            raise UnsafeProxyPath(
                f"the proxy path {path!r} has a '.', '..' or '\\' segment, which could leave "
                "the provider's API: pass a path below it"
            )
    return f"{API}/proxy/{segment(connection_id)}/{relative}"


def path(*parts: str) -> str:
    """``/api/platform/<first>/<segment>…``: the first part is literal, the rest are ids."""
    first, *rest = parts
    return "/".join([f"{API}/{first}", *(segment(part) for part in rest)])


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
