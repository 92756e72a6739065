"""``AsyncXkit``: the asynchronous twin of ``Xkit`` (``_sync.py``), line for line."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx

from xkit_client import _api
from xkit_client._calls import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_TIMEOUT,
    IDEMPOTENT_METHODS,
    Call,
    RetryPolicy,
    client_options,
    proxy_path,
    request_options,
    subject_headers,
)
from xkit_client._sync import _token_of
from xkit_client.errors import XkitConnectionError, error_from, is_xkit_error
from xkit_client.models import (
    Connection,
    ConnectionDeleted,
    ConnectionPage,
    ConnectionWithToken,
    Connector,
    Context,
    ContextPage,
    ContextWithToken,
    CreatedWebhook,
    Delivery,
    MailAddress,
    MailEvents,
    MailFolder,
    MailMessage,
    MailPage,
    SentMail,
    Webhook,
    WebhookEvent,
    WebhookResumed,
    WebhookSecret,
)
from xkit_client.webhooks import DEFAULT_TOLERANCE_SECONDS, construct_event, verify_webhook

T = TypeVar("T")


class AsyncXkit:
    """An asynchronous client for one platform's Platform API; use it as a context manager or
    await :meth:`aclose`.

    ``timeout``: seconds (or an ``httpx.Timeout``) for each attempt. ``max_retries``: how many
    more times a call that may safely be sent again is retried after a transport error or a
    429/503 (0 turns retries off); ``Retry-After`` is honoured up to ``max_retry_wait``
    seconds, beyond which the error is raised for you to schedule. ``http``: an
    ``httpx.AsyncClient`` you configured yourself (its own ``base_url`` and ``auth``, a proxy, a
    transport, event hooks …); then ``base_url``, the keys and ``timeout`` are not used, and
    :meth:`aclose` closes it.
    """

    def __init__(
        self,
        base_url: str,
        publishable_key: str,
        secret_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(
            **client_options(base_url, publishable_key, secret_key, timeout))
        self._retry = RetryPolicy(max(0, max_retries), max_retry_wait)

    def __repr__(self) -> str:
        return f"AsyncXkit({str(self._http.base_url)!r})"

    async def __aenter__(self) -> AsyncXkit:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- sending ------------------------------------------------------------------------------

    async def _send(self, request: httpx.Request, *, retryable: bool, stream: bool = False,
              proxied: bool = False) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                wait = self._retry.after_transport_error(exc, request, retryable, attempt)
                if wait is None:
                    raise XkitConnectionError(
                        f"could not reach xkit at {request.url.scheme}://{request.url.netloc.decode()}"
                        f" ({type(exc).__name__})") from exc
            else:
                wait = self._retry.after_response(response, retryable, attempt, proxied=proxied)
                if wait is None:
                    return response
                await response.aclose()
            await asyncio.sleep(wait)
            attempt += 1

    async def _run(self, call: Call[T]) -> T:
        request = self._http.build_request(call.method, call.path, params=call.params,
                                           json=call.json)
        response = await self._send(request, retryable=call.retryable)
        if response.status_code >= 400:
            raise error_from(response)
        return call.parse(response.json() if response.content else None)

    # --- contexts -----------------------------------------------------------------------------

    async def create_context(self, external_id: str, *, name: str | None = None,
                       **attributes: Any) -> ContextWithToken:
        """Create or update a context; the result carries a context token for xkit.js."""
        return await self._run(_api.create_context(external_id, name, attributes))

    async def list_contexts(self, *, limit: int | None = None,
                      cursor: str | None = None) -> ContextPage:
        """One page of the platform's contexts, in a stable order (by id)."""
        return await self._run(_api.contexts_page(limit, cursor))

    async def iter_contexts(self, *, page_size: int = 100) -> AsyncIterator[Context]:
        """Every context of the platform, fetching page after page as you iterate."""
        cursor: str | None = None
        while True:
            page = await self.list_contexts(limit=page_size, cursor=cursor)
            for context in page.contexts:
                yield context
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_context(self, external_id: str) -> Context:
        return await self._run(_api.get_context(external_id))

    async def delete_context(self, external_id: str) -> None:
        """Delete a context with its connections and their credentials."""
        await self._run(_api.delete_context(external_id))

    # --- connections --------------------------------------------------------------------------

    async def get_connection(self, external_id: str, connector: str, *, force_refresh: bool = False,
                       subject: str | None = None) -> ConnectionWithToken:
        """A context's connection to ``connector`` with a fresh access token (refreshed first
        when needed, or always with ``force_refresh``)."""
        return await self._run(_api.get_connection(external_id, connector, force_refresh, subject))

    async def get_connection_by_id(self, connection_id: str, *, force_refresh: bool = False,
                             subject: str | None = None) -> ConnectionWithToken:
        return await self._run(_api.get_connection_by_id(connection_id, force_refresh, subject))

    async def get_access_token(self, external_id: str, connector: str) -> str:
        """Only the access token; :class:`ReconnectRequired` when the connection has none."""
        return _token_of(await self.get_connection(external_id, connector))

    async def connect(self, external_id: str, connector: str, *,
                      fields: dict[str, str] | None = None) -> Connection:
        """Connect the context with no browser, to a connector whose users never visit the
        provider (client credentials, a service account, an API key): ``fields`` answers
        its collect fields (an account ID). Active when it returns; refused values or
        credentials raise, with the provider's code."""
        return await self._run(_api.connect(external_id, connector, fields))

    async def list_connections(self, external_id: str) -> list[Connection]:
        """A context's connections, without tokens."""
        return await self._run(_api.list_context_connections(external_id))

    async def list_platform_connections(
        self, *, connector: str | None = None, status: str | None = None,
        context: str | None = None, limit: int | None = None, cursor: str | None = None,
    ) -> ConnectionPage:
        """One page of every connection on the platform, in a stable order (by id), filtered
        by connector slug, status (``error`` finds those needing a reconnect) and context
        external id."""
        return await self._run(_api.connections_page(connector, status, context, limit, cursor))

    async def iter_connections(
        self, *, connector: str | None = None, status: str | None = None,
        context: str | None = None, page_size: int = 100,
    ) -> AsyncIterator[Connection]:
        """Every connection that matches, fetching page after page as you iterate."""
        cursor: str | None = None
        while True:
            page = await self.list_platform_connections(
                connector=connector, status=status, context=context, limit=page_size,
                cursor=cursor)
            for connection in page.connections:
                yield connection
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def delete_connection(self, connection_id: str) -> ConnectionDeleted:
        """Revoke the grant at the provider when possible, then remove the connection."""
        return await self._run(_api.delete_connection(connection_id))

    # --- connectors ---------------------------------------------------------------------------

    async def list_connectors(self) -> list[Connector]:
        return await self._run(_api.list_connectors())

    async def get_connector(self, slug: str) -> Connector:
        return await self._run(_api.get_connector(slug))

    # --- the proxy ----------------------------------------------------------------------------

    def _proxy_request(self, connection_id: str, method: str, path: str,
                       subject: str | None, options: dict[str, Any]) -> httpx.Request:
        return self._http.build_request(
            method.upper(), proxy_path(connection_id, path),
            **subject_headers(request_options(options), subject))

    async def proxy(self, connection_id: str, method: str, path: str, *, subject: str | None = None,
              **options: Any) -> httpx.Response:
        """Call the provider's API through xkit (``options``: httpx's ``params``, ``json``,
        ``content``, ``headers`` …). The provider's answer comes back as it is, a 4xx or 5xx
        too; xkit's own refusals (``reconnect_required``, ``connection_not_found``,
        ``provider_unreachable`` …) are raised as their exceptions."""
        request = self._proxy_request(connection_id, method, path, subject, options)
        response = await self._send(request, retryable=request.method in IDEMPOTENT_METHODS,
                                     proxied=True)
        if is_xkit_error(response):
            raise error_from(response)
        return response

    @asynccontextmanager
    async def stream_proxy(self, connection_id: str, method: str, path: str, *,
                     subject: str | None = None, **options: Any) -> AsyncIterator[httpx.Response]:
        """:meth:`proxy`, with the body left unread: ``async with xkit.stream_proxy(...)
        as response:`` then ``response.aiter_bytes()``, as with httpx's ``stream()``. The
        connection is released when the block ends."""
        request = self._proxy_request(connection_id, method, path, subject, options)
        response = await self._send(request, retryable=request.method in IDEMPOTENT_METHODS,
                                     stream=True, proxied=True)
        try:
            if is_xkit_error(response):
                await response.aread()
                raise error_from(response)
            yield response
        finally:
            await response.aclose()

    # --- mail (docs/mail.md) -------------------------------------------------------------------

    async def list_mail(self, connection_id: str, *, folder: str | None = None,
                  unread: bool | None = None, sender: str | None = None,
                  since: dt.datetime | None = None, query: str | None = None,
                  limit: int | None = None, cursor: str | None = None) -> MailPage:
        """One page of a mailbox (Outlook or Gmail connection), newest first."""
        return await self._run(_api.list_mail(connection_id, folder, unread, sender, since, query,
                                        limit, cursor))

    async def iter_mail(self, connection_id: str,
                        **filters: Any) -> AsyncIterator[MailMessage]:
        """Every message matching ``filters`` (as :meth:`list_mail`), page after page."""
        cursor: str | None = None
        while True:
            page = await self.list_mail(connection_id, cursor=cursor, **filters)
            for message in page.messages:
                yield message
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get_mail(self, connection_id: str, message_id: str) -> MailMessage:
        """One message with its bodies and its attachments' descriptions."""
        return await self._run(_api.get_mail(connection_id, message_id))

    async def get_mail_bytes(self, connection_id: str, message_id: str,
                       attachment_id: str | None = None) -> bytes:
        """An attachment's bytes, or with no ``attachment_id`` the message as RFC 822."""
        tail = ("attachments", attachment_id) if attachment_id else ("raw",)
        request = self._http.build_request(
            "GET", _api.mail_path(connection_id, "messages", message_id, *tail))
        response = await self._send(request, retryable=True)
        if response.status_code >= 400:
            raise error_from(response)
        return response.content

    async def send_mail(self, connection_id: str, *, to: list[MailAddress] | None = None,
                  subject: str = "", text: str | None = None, html: str | None = None,
                  cc: list[MailAddress] | None = None, bcc: list[MailAddress] | None = None,
                  attachments: list[tuple[str, str, bytes]] | None = None,
                  in_reply_to: str | None = None) -> SentMail:
        """Send (``attachments``: (filename, content type, bytes)), or with ``in_reply_to``
        reply in that message's thread. Never retried: a retry could send it twice."""
        return await self._run(_api.send_mail(connection_id, to or [], subject, text, html,
                                              cc or [], bcc or [], attachments or [],
                                              in_reply_to))

    async def update_mail(self, connection_id: str, message_id: str, *, read: bool | None = None,
                    folder: str | None = None) -> MailMessage:
        """Mark read or unread, or move to a folder (a label, for Gmail)."""
        return await self._run(_api.update_mail(connection_id, message_id, read, folder))

    async def list_mail_folders(self, connection_id: str) -> list[MailFolder]:
        return await self._run(_api.mail_folders(connection_id))

    async def get_mail_events(self, connection_id: str) -> MailEvents:
        """Whether the mailbox is followed for new-mail events (docs/mail.md#events)."""
        return await self._run(_api.mail_events(connection_id))

    async def enable_mail_events(self, connection_id: str, *,
                           folders: list[str] | None = None) -> MailEvents:
        """Follow the mailbox from now on: new mail becomes ``mail.received`` webhooks.
        ``folders``: Outlook folder ids or well-known names, Gmail label ids (default: the
        inbox)."""
        return await self._run(_api.enable_mail_events(connection_id, folders))

    async def disable_mail_events(self, connection_id: str) -> MailEvents:
        return await self._run(_api.disable_mail_events(connection_id))

    # --- webhooks -----------------------------------------------------------------------------

    async def create_webhook(self, url: str, *, events: list[str] | None = None,
                       description: str | None = None, enabled: bool = True) -> CreatedWebhook:
        """Subscribe ``url``; the result's secrets are the only copy you get."""
        return await self._run(_api.create_webhook(url, events, description, enabled))

    async def list_webhooks(self) -> list[Webhook]:
        return await self._run(_api.list_webhooks())

    async def get_webhook(self, webhook_id: str) -> Webhook:
        return await self._run(_api.get_webhook(webhook_id))

    async def update_webhook(self, webhook_id: str, *, url: str | None = None,
                       events: list[str] | None = None, description: str | None = None,
                       enabled: bool | None = None) -> Webhook:
        """Change what is given; ``events=[]`` subscribes to every event type."""
        return await self._run(_api.update_webhook(webhook_id, url, events, description, enabled))

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._run(_api.delete_webhook(webhook_id))

    async def resume_webhook(self, webhook_id: str) -> WebhookResumed:
        """Resume a paused subscription: what waited, and what gave up, is sent again."""
        return await self._run(_api.resume_webhook(webhook_id))

    async def rotate_webhook_secret(self, webhook_id: str) -> WebhookSecret:
        """A new signing secret, in force at once; the old one stops working."""
        return await self._run(_api.rotate_webhook_secret(webhook_id))

    async def webhook_deliveries(self, webhook_id: str, *, status: str | None = None,
                           limit: int | None = None) -> list[Delivery]:
        """The delivery log, newest first."""
        return await self._run(_api.webhook_deliveries(webhook_id, status, limit))

    async def redeliver(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Send a delivery again as soon as a worker is free; the answer is it, queued."""
        return await self._run(_api.redeliver(webhook_id, delivery_id))

    @staticmethod
    def verify_webhook(body: bytes | str, signature_header: str | None, secret: str, *,
                       tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> None:
        """See :func:`xkit_client.verify_webhook`."""
        verify_webhook(body, signature_header, secret, tolerance_seconds=tolerance_seconds)

    @staticmethod
    def construct_event(body: bytes | str, headers: Mapping[str, str], secret: str, *,
                        tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> WebhookEvent:
        """See :func:`xkit_client.construct_event`."""
        return construct_event(body, headers, secret, tolerance_seconds=tolerance_seconds)
