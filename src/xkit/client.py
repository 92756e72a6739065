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

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx

from xkit.webhook_signature import (
    SIGNATURE_HEADER,
    WebhookVerificationError,
    sign_webhook,
    verify_webhook,
)

__all__ = [
    "AsyncXkit",
    "Connection",
    "Context",
    "Webhook",
    "NotFound",
    "ProviderRefused",
    "ProviderUnavailable",
    "ReconnectRequired",
    "UnsafeProxyPath",
    "WebhookVerificationError",
    "Xkit",
    "XkitError",
    "SIGNATURE_HEADER",
    "sign_webhook",
    "verify_webhook",
]


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


class UnsafeProxyPath(ValueError):
    """A proxy path that could leave the proxy: ``.``/``..`` segments (percent-encoded too) or
    backslashes. httpx resolves dot segments before sending, so ``../../contexts/…`` would reach
    the Platform API itself with the secret key; refused here, before anything is sent."""


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
    # Service-account connections fetched with ``subject=``: the user the token acts as.
    subject: str | None = None


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
        subject=authorization.get("subject"),
    )


@dataclass(frozen=True)
class Webhook:
    """A webhook subscription; ``signing_secret`` (for ``Xkit-Signature``) and
    ``standard_webhooks_secret`` (the same secret for the ``standardwebhooks`` libraries) are set
    only right after creating it."""

    id: str
    url: str
    events: list[str]
    enabled: bool
    paused: bool
    paused_reason: str | None
    signing_secret: str | None = None
    standard_webhooks_secret: str | None = None


def _webhook(body: dict[str, Any]) -> Webhook:
    return Webhook(id=body["id"], url=body["url"], events=list(body.get("events") or []),
                   enabled=bool(body.get("enabled")), paused=bool(body.get("paused")),
                   paused_reason=body.get("paused_reason"),
                   signing_secret=body.get("signing_secret"),
                   standard_webhooks_secret=body.get("standard_webhooks_secret"))


def _webhook_body(url: str, events: list[str] | None, description: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    if description is not None:
        body["description"] = description
    return body


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
        answer: dict[str, Any] = self._json("DELETE", _connection_path(connection_id))
        return answer

    def proxy(self, connection_id: str, method: str, path: str, **options: Any) -> httpx.Response:
        """Call the provider's API through xkit; returns the provider's answer as it is."""
        return self._http.request(method, _proxy_path(connection_id, path), **options)

    def create_webhook(self, url: str, *, events: list[str] | None = None,
                       description: str | None = None) -> Webhook:
        """Subscribe ``url``; the result's ``signing_secret`` is the only copy you get."""
        return _webhook(self._json("POST", "/api/platform/webhooks",
                                   json=_webhook_body(url, events, description)))

    def list_webhooks(self) -> list[Webhook]:
        return [_webhook(w) for w in self._json("GET", "/api/platform/webhooks")["webhooks"]]

    def delete_webhook(self, webhook_id: str) -> None:
        self._json("DELETE", _webhook_path(webhook_id))

    def webhook_deliveries(self, webhook_id: str, *,
                           status: str | None = None) -> list[dict[str, Any]]:
        """The delivery log, newest first."""
        params = {"status": status} if status else None
        body = self._json("GET", _webhook_path(webhook_id, "deliveries"),
                          params=params)
        return list(body["deliveries"])

    def redeliver(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "POST", _webhook_path(webhook_id, "deliveries", delivery_id, "redeliver"))
        return answer

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
        answer: dict[str, Any] = await self._json("DELETE", _connection_path(connection_id))
        return answer

    async def proxy(
        self, connection_id: str, method: str, path: str, **options: Any
    ) -> httpx.Response:
        return await self._http.request(method, _proxy_path(connection_id, path), **options)

    async def create_webhook(self, url: str, *, events: list[str] | None = None,
                             description: str | None = None) -> Webhook:
        return _webhook(await self._json("POST", "/api/platform/webhooks",
                                         json=_webhook_body(url, events, description)))

    async def list_webhooks(self) -> list[Webhook]:
        body = await self._json("GET", "/api/platform/webhooks")
        return [_webhook(w) for w in body["webhooks"]]

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._json("DELETE", _webhook_path(webhook_id))

    async def webhook_deliveries(self, webhook_id: str, *,
                                 status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else None
        body = await self._json("GET", _webhook_path(webhook_id, "deliveries"),
                                params=params)
        return list(body["deliveries"])

    async def redeliver(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._json(
            "POST", _webhook_path(webhook_id, "deliveries", delivery_id, "redeliver"))
        return answer

    @staticmethod
    def verify_webhook(
        body: bytes, signature_header: str | None, secret: str, **options: Any
    ) -> None:
        """See :func:`verify_webhook`."""
        verify_webhook(body, signature_header, secret, **options)


def _segment(value: str) -> str:
    """One URL path segment: an id holding '/', '?' or '#' must not change the route."""
    return quote(str(value), safe="")


def _proxy_path(connection_id: str, path: str) -> str:
    """The proxy route for ``path``, which must stay below the connection's API base URL.

    An app may build ``path`` from its own user's input (a folder name, a file path), so a
    ``..`` there must not climb to ``/api/platform/…``: httpx would resolve it before sending,
    past the server's own check. Each segment is decoded until it stops changing, so ``%2e%2e``
    and ``%252e%252e`` are caught too."""
    relative = path.lstrip("/")
    route = relative.split("?", 1)[0].split("#", 1)[0]
    for segment in route.split("/"):
        decoded = segment
        while (again := unquote(decoded)) != decoded:
            decoded = again
        if "\\" in decoded or any(part in (".", "..") for part in decoded.split("/")):
            raise UnsafeProxyPath(
                f"the proxy path {path!r} has a '.', '..' or '\\' segment, which could leave "
                "the provider's API: pass a path below it"
            )
    return f"/api/platform/proxy/{_segment(connection_id)}/{relative}"


def _context_connections_path(external_id: str, connector: str | None = None) -> str:
    path = f"/api/platform/contexts/{_segment(external_id)}/connections"
    return f"{path}/{_segment(connector)}" if connector else path


def _connection_path(connection_id: str) -> str:
    return f"/api/platform/connections/{_segment(connection_id)}"


def _webhook_path(webhook_id: str, *rest: str) -> str:
    return "/".join(["/api/platform/webhooks", *(_segment(part) for part in (webhook_id, *rest))])
