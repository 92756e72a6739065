"""The Python SDK for developers' backends: ``Xkit`` (sync) and ``AsyncXkit``.

    from xkit.client import Xkit, ReconnectRequired

    xkit = Xkit("https://xkit.example.com", "xkit_pk_…", "xkit_sk_…")
    context = xkit.create_context("user-42", name="Ada")       # context.token → xkit.js
    try:
        token = xkit.get_access_token("user-42", "outlook-email")
    except ReconnectRequired as error:
        ...  # ask the user to reconnect; error.error_code says why
    messages = xkit.proxy(connection_id, "GET", "me/messages", params={"$top": 5}).json()

Both clients share the request building and response reading below; only the transport differs.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "AsyncXkit",
    "Connection",
    "Context",
    "NotFound",
    "ProviderRefused",
    "ProviderUnavailable",
    "ReconnectRequired",
    "WebhookVerificationError",
    "Xkit",
    "XkitError",
    "verify_webhook",
]

SIGNATURE_HEADER = "Xkit-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class XkitError(Exception):
    """An error answer from xkit: ``status``, machine ``code``, human ``message``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


class NotFound(XkitError):
    """No such context, connection or connector on this platform."""


class ReconnectRequired(XkitError):
    """The user must connect again (the grant was revoked or expired)."""

    @property
    def error_code(self) -> str | None:
        return self.details.get("error_code")


class ProviderUnavailable(XkitError):
    """The provider is failing transiently; retry after ``retry_after`` seconds."""

    @property
    def retry_after(self) -> float:
        return float(self.details.get("retry_after", 5))


class ProviderRefused(XkitError):
    """The provider refused the connector's own app credentials (an expired or wrong client
    secret): fix the connector; the user's connection is fine and needs no reconnect."""


class WebhookVerificationError(Exception):
    """A webhook's signature is missing, malformed, wrong or too old."""


@dataclass(frozen=True)
class Context:
    id: str
    external_id: str
    external_name: str | None
    attributes: dict[str, Any]
    token: str
    token_expires_at: str


@dataclass(frozen=True)
class Connection:
    id: str
    connector: str
    status: str
    access_token: str | None = None
    token_type: str | None = None
    expires_at: str | None = None
    granted_scopes: list[str] = field(default_factory=list)
    account_id: str | None = None
    account_label: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # API-key and password connections: what the user typed (the key, the token...).
    credentials: dict[str, str] = field(default_factory=dict)


def _connection(body: dict[str, Any]) -> Connection:
    connection = body.get("connection", {})
    authorization = body.get("authorization") or connection.get("authorization") or {}
    return Connection(
        id=connection.get("id", ""),
        connector=body.get("connector", {}).get("slug", ""),
        status=connection.get("status", ""),
        access_token=authorization.get("access_token"),
        token_type=authorization.get("token_type"),
        expires_at=authorization.get("expires_at"),
        granted_scopes=list(authorization.get("granted_scopes") or []),
        account_id=authorization.get("provider_account_id"),
        account_label=authorization.get("display_label"),
        extras=authorization.get("extras") or {},
        credentials=authorization.get("credentials") or {},
    )


def _token_params(force_refresh: bool, subject: str | None) -> dict[str, str] | None:
    """``subject``: service-account connections act as that user for this token."""
    params = {"force_refresh": "true"} if force_refresh else {}
    if subject is not None:
        params["subject"] = subject
    return params or None


def _token_of(connection: Connection) -> str:
    if connection.access_token is None:
        raise ReconnectRequired(409, "reconnect_required", "the connection has no token", {})
    return connection.access_token


def _context(body: dict[str, Any]) -> Context:
    context = body["context"]
    return Context(
        id=context["id"],
        external_id=context["external_id"],
        external_name=context.get("external_name"),
        attributes=context.get("attributes") or {},
        token=body["access_token"],
        token_expires_at=body["expires_at"],
    )


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message, details = "http_error", response.text[:200], {}
    kind = {
        404: NotFound,
        409: ReconnectRequired,
        502: ProviderRefused,
        503: ProviderUnavailable,
    }.get(response.status_code, XkitError)
    if (kind is ReconnectRequired and code != "reconnect_required") or (
        kind is ProviderRefused and code != "provider_refused"
    ):
        kind = XkitError
    raise kind(response.status_code, code, message, details if isinstance(details, dict) else {})


def _context_body(external_id: str, name: str | None, attributes: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {"external_id": external_id, **attributes}
    if name is not None:
        context["external_name"] = name
    return {"context": context}


def _client_options(
    base_url: str, publishable_key: str, secret_key: str, timeout: float
) -> dict[str, Any]:
    return {
        "base_url": base_url.rstrip("/"),
        "auth": (publishable_key, secret_key),
        "timeout": timeout,
        "headers": {"User-Agent": "xkit-python"},
    }


class Xkit:
    """A synchronous client; use it as a context manager or call :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        publishable_key: str,
        secret_key: str,
        *,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self._http = http or httpx.Client(
            **_client_options(base_url, publishable_key, secret_key, timeout)
        )

    def __enter__(self) -> Xkit:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _json(self, method: str, path: str, **options: Any) -> Any:
        response = self._http.request(method, path, **options)
        _raise_for_error(response)
        return response.json() if response.content else None

    def create_context(
        self, external_id: str, *, name: str | None = None, **attributes: Any
    ) -> Context:
        """Create or update a context; the result carries a context token for xkit.js."""
        return _context(
            self._json(
                "POST", "/api/platform/contexts", json=_context_body(external_id, name, attributes)
            )
        )

    def get_connection(
        self, external_id: str, connector: str, *, force_refresh: bool = False,
        subject: str | None = None,
    ) -> Connection:
        return _connection(
            self._json(
                "GET",
                _context_connections_path(external_id, connector),
                params=_token_params(force_refresh, subject),
            )
        )

    def get_connection_by_id(self, connection_id: str) -> Connection:
        return _connection(self._json("GET", _connection_path(connection_id)))

    def get_access_token(self, external_id: str, connector: str) -> str:
        return _token_of(self.get_connection(external_id, connector))

    def list_connections(self, external_id: str) -> list[Connection]:
        body = self._json("GET", _context_connections_path(external_id))
        return [_connection(c) for c in body["connections"]]

    def delete_connection(self, connection_id: str) -> dict[str, Any]:
        return self._json("DELETE", _connection_path(connection_id))  # type: ignore[no-any-return]

    def proxy(self, connection_id: str, method: str, path: str, **options: Any) -> httpx.Response:
        """Call the provider's API through xkit; returns the provider's answer as it is."""
        return self._http.request(
            method, f"/api/platform/proxy/{_segment(connection_id)}/{path.lstrip('/')}", **options
        )

    @staticmethod
    def verify_webhook(
        body: bytes, signature_header: str | None, secret: str, **options: Any
    ) -> None:
        """See :func:`verify_webhook`."""
        verify_webhook(body, signature_header, secret, **options)


class AsyncXkit:
    """The asynchronous twin of :class:`Xkit`."""

    def __init__(
        self,
        base_url: str,
        publishable_key: str,
        secret_key: str,
        *,
        timeout: float = 30.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(
            **_client_options(base_url, publishable_key, secret_key, timeout)
        )

    async def __aenter__(self) -> AsyncXkit:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _json(self, method: str, path: str, **options: Any) -> Any:
        response = await self._http.request(method, path, **options)
        _raise_for_error(response)
        return response.json() if response.content else None

    async def create_context(
        self, external_id: str, *, name: str | None = None, **attributes: Any
    ) -> Context:
        return _context(
            await self._json(
                "POST", "/api/platform/contexts", json=_context_body(external_id, name, attributes)
            )
        )

    async def get_connection(
        self, external_id: str, connector: str, *, force_refresh: bool = False,
        subject: str | None = None,
    ) -> Connection:
        return _connection(
            await self._json(
                "GET",
                _context_connections_path(external_id, connector),
                params=_token_params(force_refresh, subject),
            )
        )

    async def get_connection_by_id(self, connection_id: str) -> Connection:
        return _connection(await self._json("GET", _connection_path(connection_id)))

    async def get_access_token(self, external_id: str, connector: str) -> str:
        return _token_of(await self.get_connection(external_id, connector))

    async def list_connections(self, external_id: str) -> list[Connection]:
        body = await self._json("GET", _context_connections_path(external_id))
        return [_connection(c) for c in body["connections"]]

    async def delete_connection(self, connection_id: str) -> dict[str, Any]:
        return await self._json("DELETE", _connection_path(connection_id))  # type: ignore[no-any-return]

    async def proxy(
        self, connection_id: str, method: str, path: str, **options: Any
    ) -> httpx.Response:
        return await self._http.request(
            method, f"/api/platform/proxy/{_segment(connection_id)}/{path.lstrip('/')}", **options
        )

    @staticmethod
    def verify_webhook(
        body: bytes, signature_header: str | None, secret: str, **options: Any
    ) -> None:
        """See :func:`verify_webhook`."""
        verify_webhook(body, signature_header, secret, **options)


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Xkit-Signature`` header value: ``t=<unix seconds>,v1=<hex HMAC-SHA256>`` over
    ``"<t>." + body``, so a receiver can refuse old (replayed) deliveries."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook(
    body: bytes,
    signature_header: str | None,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a delivery's signature and age; raises :class:`WebhookVerificationError`."""
    if not signature_header:
        raise WebhookVerificationError(f"no {SIGNATURE_HEADER} header")
    parts = dict(p.split("=", 1) for p in signature_header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise WebhookVerificationError("malformed signature header") from None
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("the delivery is too old (or the clocks disagree)")
    expected = sign_webhook(secret, body, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise WebhookVerificationError("the signature does not match")


def _segment(value: str) -> str:
    """One URL path segment: an id holding '/', '?' or '#' must not change the route."""
    return quote(str(value), safe="")


def _context_connections_path(external_id: str, connector: str | None = None) -> str:
    path = f"/api/platform/contexts/{_segment(external_id)}/connections"
    return f"{path}/{_segment(connector)}" if connector else path


def _connection_path(connection_id: str) -> str:
    return f"/api/platform/connections/{_segment(connection_id)}"
