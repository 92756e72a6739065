"""Which hosts xkit may call on someone's behalf: public addresses only, unless the operator
allows private ones. The proxy and webhook deliveries both reach URLs that a developer (not the
operator) chose, so neither may become a way into the network xkit runs in (SSRF).

The check returns the vetted address; the request is then pinned to it (the
``xkit.connect_to.PINNED_ADDRESS`` extension), because resolving the name again when connecting
would let a DNS answer that changes in between (rebinding) send the request inside after all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnresolvableHost(Exception):
    """The host has no address (a typo, or DNS is down)."""


class NonPublicAddress(Exception):
    """The host resolves to a loopback, private, link-local or otherwise non-public address."""


async def vetted_address(url: str, *, allow_private: bool) -> str | None:
    """The public address to send ``url``'s request to (``None`` when private networks are
    allowed: then the name is resolved as usual)."""
    if allow_private:
        return None
    return await public_address(urlsplit(url).hostname or "")


async def public_address(host: str) -> str:
    """``host``'s first address; raises unless every address it has is public."""
    addresses = await addresses_of(host)
    if not addresses or any(not a.is_global or a.is_multicast for a in addresses):
        raise NonPublicAddress(host)
    return str(addresses[0])


async def addresses_of(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnresolvableHost(host) from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]
