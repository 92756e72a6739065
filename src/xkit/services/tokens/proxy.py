"""The proxy: a backend's API call sent to the provider with the connection's credential.

Only the template's API base URL can be reached, only public addresses unless the operator
allows private ones, and only an allow-list of request headers is forwarded, so the proxy can
be neither a way into xkit's own network nor a way to leak a token to another host.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx

from xkit import metrics
from xkit.connect_to import ConnectTo
from xkit.errors import Conflict, Forbidden, InvalidInput, XkitError
from xkit.oauth.errors import parse_retry_after
from xkit.outbound import AddressRefused, OutboundPolicy, UnresolvableHost
from xkit.services.auth_types import auth_type_of
from xkit.services.connect.flow import connected_values
from xkit.services.tokens.connections import ConnectionView
from xkit.services.tokens.provider_http import RequestAuth
from xkit.services.tokens.refresh import (
    TokenDeps,
    auth_context,
    fresh_authorization,
    record_use,
    token_for_subject,
)

FORWARDED_REQUEST_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "content-type",
        "content-encoding",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "prefer",
        "range",
    }
)
DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "set-cookie",
        "www-authenticate",
        "content-length",
        # The server adds its own Date; a second one would make the answer carry two.
        "date",
        # Only xkit's own error answers carry it (xkit.http.errors.ERROR_HEADER): a provider's
        # must not pass for one.
        "xkit-error",
    }
)
MAX_RETRY_AFTER_SECONDS = 5.0


class ProxyRefused(XkitError):
    status_code = 400
    code = "proxy_refused"


class UpstreamUnreachable(XkitError):
    status_code = 502
    code = "provider_unreachable"


@dataclass(frozen=True)
class ProxyRequest:
    """``body`` is bytes when small enough to send twice (a retry after a 401 or a 429), or a
    stream for large uploads, which go out once, as they arrive."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes | AsyncIterator[bytes]

    @property
    def replayable(self) -> bool:
        return isinstance(self.body, bytes)


@dataclass
class ProxyResponse:
    status_code: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


def target_url(base_url: str, path: str, query: str) -> str:
    """``base_url`` + ``path``, refusing anything that would climb out of the base."""
    decoded = unquote(path)
    segments = decoded.split("/")
    if any(s in ("..", ".") for s in segments) or "\\" in decoded or decoded.startswith("/"):
        raise ProxyRefused(
            "the path may not leave the provider's API base URL", details={"path": path}
        )
    url = f"{base_url.rstrip('/')}/{path}"
    if not urlsplit(url).netloc == urlsplit(base_url).netloc:
        raise ProxyRefused("the path may not change the host", details={"path": path})
    return f"{url}?{query}" if query else url


async def check_public_address(url: str, *, allow_private: bool,
                               connect_to: ConnectTo | None = None) -> None:
    """Refuse loopback, private, link-local and other non-public targets (SSRF) before a
    token is refreshed or looked at for nothing.

    The proxy's client enforces the same policy again when it sends, and connects to the
    address it checked then (:mod:`xkit.outbound`), so a DNS answer that changes in between
    cannot send the request inside. When ``XKIT_PROVIDER_CONNECT_TO`` redirects the host,
    the address checked is the one the operator named.
    """
    policy = OutboundPolicy(allow_private, connect_to or ConnectTo())
    try:
        await policy.targets(urlsplit(url).hostname or "", 443)
    except UnresolvableHost:
        raise UpstreamUnreachable(f"cannot resolve {urlsplit(url).hostname}") from None
    except AddressRefused:
        raise _target_refused(urlsplit(url).hostname or "") from None


def _target_refused(host: str) -> Forbidden:
    return Forbidden(f"{host} resolves to a non-public address; an operator can allow it "
                     "with XKIT_PROXY_ALLOW_PRIVATE_NETWORKS", code="proxy_target_refused")


async def forward(
    deps: TokenDeps,
    view: ConnectionView,
    request: ProxyRequest,
    *,
    http: httpx.AsyncClient,
    allow_private: bool,
    connect_to: ConnectTo | None = None,
    subject: str | None = None,
) -> ProxyResponse:
    """Send the call with the connection's credential; on a 401 renew once and retry (for
    credentials that can be renewed); on a 429 wait a bounded Retry-After once.

    ``http`` is the proxy's client, held to the proxy's policy (``allow_private`` and
    ``connect_to`` are that policy, checked up front).

    ``subject`` (service accounts) makes the call as that user, with a token minted for it.
    """
    template = deps.providers.get(view.connector.provider)
    values = connected_values(deps.keyring, template, view.connector, view.authorization)
    base_url = template.api_base_url(values)
    if not base_url:
        raise Conflict(
            f"{view.connector.name} has no API base URL for the proxy", code="proxy_unavailable"
        )
    if view.authorization is None:
        raise Conflict("this connection is not connected", code="reconnect_required")
    url = target_url(base_url, request.path, request.query)
    await check_public_address(url, allow_private=allow_private, connect_to=connect_to)
    template_headers = {k.lower(): v for k, v in template.api_headers(values).items()}
    headers = {k: v for k, v in request.headers.items() if k in FORWARDED_REQUEST_HEADERS}
    headers.update(template_headers)

    kind = auth_type_of(template)
    authorization = await fresh_authorization(deps, view.authorization.id)
    record_use(deps.uses, authorization)
    if subject is not None:
        tokens = await token_for_subject(deps, authorization.id, subject)
        auth = RequestAuth.token(template, tokens.access_token)
    else:
        auth = kind.request_auth(auth_context(deps, view, authorization))
    renewable = kind.renewable and subject is None
    refreshed = throttled = False
    while True:
        with metrics.provider_call(template.slug, "proxy"):
            upstream = await _send(
                http, request.method, auth.url(url), {**headers, **auth.headers}, request.body
            )
        if upstream.status_code == 401 and renewable and not refreshed and request.replayable:
            await upstream.aclose()
            refreshed = True
            authorization = await fresh_authorization(
                deps, authorization.id, force=True, rejected=authorization
            )
            auth = kind.request_auth(auth_context(deps, view, authorization))
            continue
        if upstream.status_code == 429 and not throttled and request.replayable:
            wait = parse_retry_after(upstream.headers.get("retry-after"))
            if wait is not None and wait <= MAX_RETRY_AFTER_SECONDS:
                await upstream.aclose()
                throttled = True
                await asyncio.sleep(wait)
                continue
        return ProxyResponse(
            status_code=upstream.status_code,
            headers=[
                (k, v)
                for k, v in upstream.headers.multi_items()
                if k.lower() not in DROPPED_RESPONSE_HEADERS
            ],
            body=upstream.aiter_raw(),
            close=upstream.aclose,
        )


async def _send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | AsyncIterator[bytes],
) -> httpx.Response:
    try:
        request = http.build_request(method, url, headers=headers, content=body or None)
        return await http.send(request, stream=True)
    except AddressRefused:
        raise _target_refused(urlsplit(url).hostname or "") from None
    except httpx.TimeoutException:
        raise UpstreamUnreachable(
            "the provider did not answer in time", code="provider_timeout"
        ) from None
    except httpx.HTTPError as exc:
        raise UpstreamUnreachable(f"could not reach the provider ({type(exc).__name__})") from None


def check_method(method: str) -> str:
    if method.upper() not in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}:
        raise InvalidInput(f"method {method} cannot be proxied")
    return method.upper()
