"""Which hosts xkit may call on someone's behalf: public addresses only, unless the operator
allows private ones. The proxy and webhook deliveries both reach URLs that a developer (not the
operator) chose, so neither may become a way into the network xkit runs in (SSRF)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnresolvableHost(Exception):
    """The host has no address (a typo, or DNS is down)."""


class NonPublicAddress(Exception):
    """The host resolves to a loopback, private, link-local or otherwise non-public address."""


async def check_public_address(url: str, *, allow_private: bool) -> None:
    """Raise unless every address ``url``'s host resolves to is public (or private is allowed).

    Resolving here and connecting later leaves a window for DNS rebinding; the check still
    stops the plain cases (``http://10.0.0.5/``, ``http://localhost/``, metadata services)."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    for address in await addresses_of(host):
        if not address.is_global or address.is_multicast:
            raise NonPublicAddress(host)


async def addresses_of(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnresolvableHost(host) from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]
