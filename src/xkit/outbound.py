"""The outbound address policy: where xkit may send a request on a platform's behalf.

Every request xkit sends for a platform — token exchange, refresh, account lookup,
revocation, admin consent, JWT-bearer grants, JWT issuers' JWKS, the proxy, webhook
deliveries, the worker's token upkeep — goes through :class:`OutboundTransport`, so no call
site has to remember to check. For each request the transport resolves the host, refuses
unless *every* address is public, and connects to the address it checked (no second DNS
lookup, so an answer that changes in between — DNS rebinding — cannot send the request
inside). TLS still names and verifies the host (SNI and certificate), and ``Host`` still
names it. Redirects are never followed (the clients say ``follow_redirects=False``; and a
hop would be checked again).

"Public" is :attr:`ipaddress.IPv6Address.is_global` and more: the IPv6 spellings of an IPv4
address (NAT64, 6to4, IPv4-mapped, IPv4-compatible) are unwrapped and the IPv4 inside is
checked, because ``is_global`` says yes to ``64:ff9b::7f00:1`` (127.0.0.1 via NAT64).

An operator may allow private networks — separately for provider calls, the proxy and
webhooks (``XKIT_PROVIDER_ALLOW_PRIVATE_NETWORKS`` and its two siblings); tests and
emulators do. ``XKIT_PROVIDER_CONNECT_TO`` targets are checked like any other address: a
mapping to a private address needs private networks allowed too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from xkit.connect_to import ConnectTo

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[list[IPAddress]]]

# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): the last 32 bits are an IPv4.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# IPv4-compatible addresses (deprecated by RFC 4291, still routed by some stacks): ::a.b.c.d
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# What inet_aton reads as an IPv4 address, in any of its old spellings (127.1, 0x7f.1,
# 2130706433): the resolver answers those without asking DNS.
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-Fx.]+$")


class AddressRefused(httpx.ConnectError):
    """The host resolves to a loopback, private, link-local or otherwise non-public address.

    Raised before any connection is opened, so the answer is the same whether something
    listens there or not: the policy cannot be used to scan ports."""


class UnresolvableHost(httpx.ConnectError):
    """The host has no address (a typo, or DNS is down)."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address merely spells (mapped, 6to4, NAT64, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64) or (
        address in _IPV4_COMPATIBLE and int(address) > 1  # not :: nor ::1
    ):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """A globally reachable unicast address, and not an IPv6 spelling of one that is not.

    ``is_global`` already refuses loopback, private (RFC 1918, ULA), link-local, CGNAT
    (100.64/10), documentation, benchmarking, reserved and unspecified addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is written as one (``[::1]``, ``127.1``), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_local_name(host: str) -> bool:
    """``localhost`` and its subdomains (RFC 6761: they always mean this machine)."""
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be a provider endpoint when private networks are not allowed:
    plain http, ``localhost``, or a literal non-public address; None when it may be (a host
    name is judged when it is called, by what it resolves to then).

    A host that is still a ``{placeholder}`` is judged once filled in."""
    parts = urlsplit(url)
    if "{" in parts.netloc:
        return None
    if parts.scheme != "https":
        return "must be an https:// URL"
    return host_problem(parts.hostname or "")


def host_problem(host: str) -> str | None:
    """Why ``host`` (a name or a literal address, without a port) is not a public one, or
    None; a name is judged by what it resolves to when it is called."""
    host = host.lower().strip("[]")
    if is_local_name(host):
        return f"{host} is this machine (localhost)"
    address = literal_address(host)
    if address is not None and not is_public(address):
        return f"{host} is a loopback, private or otherwise non-public address"
    return None


def host_setting_problem(value: str) -> str | None:
    """:func:`host_problem` for a ``host[:port]`` value (a connector's host setting)."""
    try:
        host = urlsplit(f"//{value}").hostname
    except ValueError:
        return None  # not a host at all: the setting's own check says so
    return host_problem(host or "")


async def resolve(host: str) -> list[IPAddress]:
    """Every address ``host`` has; UnresolvableHost if none."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnresolvableHost(f"cannot resolve {host}") from None
    found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not found:
        raise UnresolvableHost(f"cannot resolve {host}")
    return list(dict.fromkeys(found))


async def public_addresses(host: str, *, resolver: Resolver = resolve) -> list[IPAddress]:
    """``host``'s addresses, all public; AddressRefused if any is not (a name with one
    private address among public ones is refused: the connection could land on it)."""
    literal = literal_address(host)
    addresses = [literal] if literal is not None else await resolver(host)
    if not all(is_public(address) for address in addresses):
        raise AddressRefused(f"{host} resolves to a non-public address")
    return addresses


@dataclass(frozen=True)
class OutboundPolicy:
    """What one kind of outbound request may reach; ``connect_to`` (provider calls and the
    proxy only) sends some hosts to an operator-chosen address, which is checked too."""

    allow_private_networks: bool = False
    connect_to: ConnectTo = field(default_factory=ConnectTo)

    async def targets(self, host: str, port: int,
                      resolver: Resolver = resolve) -> list[tuple[str, int]] | None:
        """The (address, port)s to try for ``host``, checked; None to connect to the host as
        usual (private networks allowed and no connect-to rule)."""
        rule = self.connect_to.target(host)
        if rule is not None:
            host, port = rule
        if self.allow_private_networks:
            return [(host, port)] if rule is not None else None
        return [(str(a), port) for a in await public_addresses(host, resolver=resolver)]


@dataclass
class OutboundTransport(httpx.AsyncBaseTransport):
    """Sends each request to an address its :class:`OutboundPolicy` allows, keeping the
    host's name for TLS (SNI and certificate) and for the ``Host`` header.

    Each host gets a connection pool of its own: pools are keyed by address, and a
    connection opened with one host's SNI must never carry another host's requests.
    """

    policy: OutboundPolicy
    make_transport: type[httpx.AsyncHTTPTransport] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the transport
    resolver: Resolver = resolve
    _default: httpx.AsyncBaseTransport | None = None
    _per_host: dict[str, httpx.AsyncBaseTransport] = field(default_factory=dict)

    def _transport(self, host: str | None) -> httpx.AsyncBaseTransport:
        factory = self.make_transport or httpx.AsyncHTTPTransport
        if host is None:
            if self._default is None:
                self._default = factory(**self.options)
            return self._default
        if host not in self._per_host:
            self._per_host[host] = factory(**self.options)
        return self._per_host[host]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            targets = await self.policy.targets(host, port, self.resolver)
        except httpx.ConnectError as exc:  # refused or unresolvable: nothing was opened
            exc.request = request
            raise
        if targets is None:
            return await self._transport(None).handle_async_request(request)
        last: httpx.ConnectError | None = None
        for address, target_port in targets:  # the next address only if this one refused
            redirected = httpx.Request(
                request.method,
                request.url.copy_with(host=address, port=target_port),
                headers=request.headers,  # Host still names the provider
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": host},
            )
            try:
                return await self._transport(host).handle_async_request(redirected)
            except httpx.ConnectError as exc:  # nothing was sent: another address may answer
                last = exc
        assert last is not None
        raise last

    async def aclose(self) -> None:
        for transport in [self._default, *self._per_host.values()]:
            if transport is not None:
                await transport.aclose()

    async def __aexit__(self, exc_type: type[BaseException] | None = None,
                        exc: BaseException | None = None,
                        traceback: TracebackType | None = None) -> None:
        await self.aclose()
