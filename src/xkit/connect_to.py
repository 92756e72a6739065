"""``XKIT_PROVIDER_CONNECT_TO``: reach some provider hosts at another address.

Like curl's ``--connect-to``: a call to ``https://slack.com/api/...`` still names
``slack.com`` in its TLS handshake (SNI), checks the certificate against ``slack.com`` and
sends ``Host: slack.com``; only the TCP connection goes elsewhere. Operators use it where
providers are reached through an SNI-routing egress gateway or a private endpoint, and the
test suite uses it to send every built-in template to one provider emulator without
changing a single URL in the templates.

The value is a comma-separated list of ``pattern=address:port``; ``pattern`` is a host name
(``slack.com``) or ``*.`` and a domain (``*.zendesk.com``: any subdomain, not the domain
itself). The first matching rule wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import TracebackType

import httpx

# A request extension: connect to this address (one the SSRF check vetted) instead of
# resolving the host again; set by the proxy, honoured by ConnectToTransport.
PINNED_ADDRESS = "xkit.pinned_address"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PATTERN = re.compile(rf"^(\*\.)?{_LABEL}(?:\.{_LABEL})*$")
_TARGET = re.compile(rf"^({_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\]):(\d{{1,5}})$")


@dataclass(frozen=True)
class ConnectRule:
    pattern: str
    address: str
    port: int

    def matches(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if self.pattern.startswith("*."):
            return host.endswith(self.pattern[1:]) and host != self.pattern[2:]
        return host == self.pattern


@dataclass(frozen=True)
class ConnectTo:
    """The parsed rules; empty means every host is reached at its own address."""

    rules: tuple[ConnectRule, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> ConnectTo:
        """Rules from ``pattern=address:port,...``; ValueError names the entry at fault."""
        rules: list[ConnectRule] = []
        for entry in (part.strip() for part in spec.split(",")):
            if not entry:
                continue
            pattern, _, target = entry.partition("=")
            pattern = pattern.strip().lower()
            found = _TARGET.fullmatch(target.strip())
            if not _PATTERN.fullmatch(pattern) or found is None:
                raise ValueError(f"{entry!r} is not pattern=address:port "
                                 "(for example *.example.com=10.0.0.5:443)")
            port = int(found.group(2))
            if not 0 < port < 65536:
                raise ValueError(f"{entry!r}: port {port} is out of range")
            rules.append(ConnectRule(pattern, found.group(1).strip("[]"), port))
        return cls(tuple(rules))

    def target(self, host: str) -> tuple[str, int] | None:
        """Where to connect for ``host``, or None to connect to the host itself."""
        for rule in self.rules:
            if rule.matches(host):
                return rule.address, rule.port
        return None

    def __bool__(self) -> bool:
        return bool(self.rules)


@dataclass
class ConnectToTransport(httpx.AsyncBaseTransport):
    """Sends requests for matching hosts to their rule's address (or to the address pinned
    on the request), keeping the host's name for TLS and the ``Host`` header.

    Each redirected host gets a connection pool of its own: pools are keyed by address, and
    a connection opened with one host's SNI must never carry another host's requests.
    """

    connect_to: ConnectTo
    make_transport: type[httpx.AsyncHTTPTransport] | None = None
    options: dict[str, object] = field(default_factory=dict)
    _default: httpx.AsyncBaseTransport | None = None
    _per_host: dict[str, httpx.AsyncBaseTransport] = field(default_factory=dict)

    def _transport(self, host: str | None) -> httpx.AsyncBaseTransport:
        factory = self.make_transport or httpx.AsyncHTTPTransport
        if host is None:
            if self._default is None:
                self._default = factory(**self.options)  # type: ignore[arg-type]
            return self._default
        if host not in self._per_host:
            self._per_host[host] = factory(**self.options)  # type: ignore[arg-type]
        return self._per_host[host]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        extensions = dict(request.extensions)
        pinned = extensions.pop(PINNED_ADDRESS, None)
        target = (
            (str(pinned), request.url.port) if pinned else self.connect_to.target(request.url.host)
        )
        if target is None:
            return await self._transport(None).handle_async_request(request)
        address, port = target
        redirected = httpx.Request(
            request.method,
            request.url.copy_with(host=address, port=port),
            headers=request.headers,  # Host still names the provider
            stream=request.stream,
            extensions={**extensions, "sni_hostname": request.url.host},
        )
        return await self._transport(request.url.host).handle_async_request(redirected)

    async def aclose(self) -> None:
        for transport in [self._default, *self._per_host.values()]:
            if transport is not None:
                await transport.aclose()

    async def __aexit__(self, exc_type: type[BaseException] | None = None,
                        exc: BaseException | None = None,
                        traceback: TracebackType | None = None) -> None:
        await self.aclose()
