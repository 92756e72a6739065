"""Calls to a mailbox's API, made as the proxy makes them, and their failures in xkit's terms.

Every call goes through ``proxy.forward``: the connection's fresh credential, one renewal on a
401, one bounded wait on a 429, the outbound address policy. What still fails becomes an
error a backend can act on: a 403 names the scope the connector lacks, throttling is a 429 with
``Retry-After``, and nothing the provider says is passed on unchecked.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from xkit.errors import Conflict, Forbidden, InvalidInput, NotFound, XkitError
from xkit.oauth.errors import parse_retry_after
from xkit.services.tokens import proxy
from xkit.services.tokens.connections import ConnectionView
from xkit.services.tokens.refresh import TokenDeps

MAX_JSON_BYTES = 64 * 1024 * 1024
DEFAULT_RETRY_AFTER = 5


class MailThrottled(XkitError):
    status_code = 429
    code = "mail_throttled"


class ProviderFailed(XkitError):
    status_code = 502
    code = "provider_error"


@dataclass(frozen=True)
class Refusal:
    """What an adapter reads from a provider's error body."""

    status: int
    code: str
    message: str
    throttled: bool = False
    missing_scope: bool = False


@dataclass
class Mailbox:
    """One connection's mailbox API, with what is needed to call it."""

    deps: TokenDeps
    view: ConnectionView
    http: Any
    allow_private: bool
    connect_to: Any

    async def send(self, method: str, path: str, *, query: str = "",
                   body: bytes = b"", content_type: str | None = None,
                   headers: dict[str, str] | None = None) -> proxy.ProxyResponse:
        request_headers = {"accept": "application/json", **(headers or {})}
        if content_type:
            request_headers["content-type"] = content_type
        return await proxy.forward(
            self.deps, self.view,
            proxy.ProxyRequest(method=method, path=path, query=query,
                               headers=request_headers, body=body),
            http=self.http, allow_private=self.allow_private, connect_to=self.connect_to)

    async def json(self, method: str, path: str, *, query: str = "", payload: Any = None,
                   raw: bytes | None = None, content_type: str | None = None,
                   headers: dict[str, str] | None = None, scope: str,
                   read_error: Any) -> dict[str, Any]:
        """Call and read a JSON object ({} for an empty 2xx); a failure raises the error
        ``read_error`` makes of the provider's body. ``scope`` is what the call needs."""
        body = raw if raw is not None else (
            json.dumps(payload).encode() if payload is not None else b"")
        if payload is not None and content_type is None:
            content_type = "application/json"
        response = await self.send(method, path, query=query, body=body,
                                   content_type=content_type, headers=headers)
        content = await _read(response)
        if 200 <= response.status_code < 300:
            if not content.strip():
                return {}
            try:
                document = json.loads(content)
            except ValueError:
                document = None
            if not isinstance(document, dict):
                raise ProviderFailed("the mail provider answered something that is not a JSON "
                                     "object")
            return document
        raise failure(response, content, scope, read_error)

    async def stream(self, path: str, *, scope: str,
                     read_error: Any) -> tuple[proxy.ProxyResponse, AsyncIterator[bytes]]:
        """A download (an attachment's bytes), streamed; a failure raises like ``json``."""
        response = await self.send("GET", path, headers={"accept": "*/*"})
        if 200 <= response.status_code < 300:
            return response, response.body
        content = await _read(response)
        raise failure(response, content, scope, read_error)


@contextmanager
def provider_shape() -> Iterator[None]:
    """A provider's 2xx answer missing what its API documents (an id, a list where an object
    should be) is the provider's failure, said as one, not a crash of xkit's."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, IndexError, ValidationError):
        raise ProviderFailed("the mail provider answered in a shape its API does not "
                             "document") from None


async def _read(response: proxy.ProxyResponse) -> bytes:
    chunks = bytearray()
    try:
        async for chunk in response.body:
            chunks += chunk
            if len(chunks) > MAX_JSON_BYTES:
                raise ProviderFailed("the mail provider's answer is too large")
    finally:
        await response.close()
    return bytes(chunks)


def header(response: proxy.ProxyResponse, name: str) -> str | None:
    return next((v for k, v in response.headers if k.lower() == name), None)


def failure(response: proxy.ProxyResponse, content: bytes, scope: str,
            read_error: Any) -> XkitError:
    try:
        document = json.loads(content) if content else {}
    except ValueError:
        document = {}
    refusal: Refusal = read_error(response.status_code, document)
    provider = {"status": response.status_code, "code": refusal.code}
    if refusal.throttled:
        wait = parse_retry_after(header(response, "retry-after")) or DEFAULT_RETRY_AFTER
        return MailThrottled("the mail provider is throttling this mailbox; try again after "
                             "Retry-After seconds",
                             details={"retry_after": wait, "provider": provider})
    if refusal.missing_scope:
        return Forbidden(
            f"the connection's token lacks the permission {scope}; add it to the connector's "
            "scopes (dashboard → the connector → Scopes), then have the user reconnect",
            code="mail_scope_missing", details={"scope": scope, "provider": provider})
    if refusal.status == 401:
        return Conflict("the mail provider refused the connection's credential even after "
                        "renewing it; the user must reconnect", code="reconnect_required",
                        details={"provider": provider})
    if refusal.status == 404:
        return NotFound("the mail provider has no such message, attachment or folder",
                        code="mail_not_found", details={"provider": provider})
    if 400 <= refusal.status < 500:
        return InvalidInput(f"the mail provider refused the request: {refusal.message}"[:500],
                            code="mail_refused", details={"provider": provider})
    return ProviderFailed("the mail provider failed; try again later",
                          details={"provider": provider})
