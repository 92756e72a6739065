"""The outbound address policy (xkit.outbound): which addresses are public, and a transport
that checks each request's host, connects to the address it checked, and sends nothing to one
it refused."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from xkit.connect_to import ConnectTo
from xkit.oauth.errors import ADDRESS_REFUSED, from_transport
from xkit.outbound import (
    AddressRefused,
    IPAddress,
    OutboundPolicy,
    OutboundTransport,
    UnresolvableHost,
    endpoint_problem,
    host_setting_problem,
    is_public,
)

pytestmark = pytest.mark.database_independent

# The IPv6 spellings of internal IPv4 addresses that ipaddress.is_global alone lets through.
IPV6_SPELLINGS_OF_LOOPBACK = [
    "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1
    "64:ff9b:1::7f00:1",  # local-use NAT64 (RFC 8215)
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:127.0.0.1",  # IPv4-mapped
    "64:ff9b::a01:203",  # NAT64 of 10.1.2.3
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254 (cloud metadata)
    "::ffff:100.64.0.1",  # mapped CGNAT
]
NON_PUBLIC = [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1", "240.0.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    *IPV6_SPELLINGS_OF_LOOPBACK,
]
PUBLIC = ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8",
          "64:ff9b::808:808", "2002:808:808::"]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_is_global_alone_lets_most_ipv6_spellings_through() -> None:
    """Why the policy unwraps them (the check before this change was ``is_global``)."""
    through = [a for a in IPV6_SPELLINGS_OF_LOOPBACK if ipaddress.ip_address(a).is_global]
    assert len(through) >= 6
    assert not any(is_public(ipaddress.ip_address(a)) for a in through)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9999/token", "http://auth.example.com/token", "https://10.1.2.3/token",
    "https://localhost/token", "https://api.localhost/token", "https://127.1/token",
    "https://2130706433/token", "https://[::1]/token",
    *(f"https://[{a}]/token" for a in IPV6_SPELLINGS_OF_LOOPBACK),
])
def test_endpoints_that_point_inside_are_named(url: str) -> None:
    assert endpoint_problem(url)


@pytest.mark.parametrize("url", ["https://auth.example.com/token", "https://8.8.8.8/t",
                                 "https://{host}/token"])
def test_public_endpoints_and_unfilled_hosts_pass(url: str) -> None:
    assert endpoint_problem(url) is None


def test_host_settings_with_ports() -> None:
    assert host_setting_problem("127.0.0.1:8443")
    assert host_setting_problem("[::ffff:127.0.0.1]:8443")
    assert host_setting_problem("localhost:8443")
    assert host_setting_problem("login.microsoftonline.com") is None


class Recording(httpx.AsyncBaseTransport):
    """Stands in for the network: what would have been sent, and where."""

    sent: list[tuple[str, str | None, str]] = []

    def __init__(self, **_options: object) -> None:
        pass

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        Recording.sent.append((str(request.url), request.extensions.get("sni_hostname"),
                               request.headers["host"]))
        return httpx.Response(200)


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolver(host: str) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in addresses]
    return resolver


Sent = list[tuple[str, str | None, str]]


async def _send(policy: OutboundPolicy, url: str, *addresses: str) -> Sent:
    Recording.sent = []
    transport = OutboundTransport(policy, make_transport=Recording,  # type: ignore[arg-type]
                                  resolver=resolving_to(*addresses))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.post(url, data={"code": "c"})
    return Recording.sent


@pytest.mark.parametrize("addresses", [
    ("127.0.0.1",), ("93.184.215.14", "10.0.0.1"), ("64:ff9b::7f00:1",), ("::ffff:127.0.0.1",),
])
async def test_a_host_with_any_non_public_address_is_refused_and_nothing_is_sent(
        addresses: tuple[str, ...]) -> None:
    with pytest.raises(AddressRefused):
        await _send(OutboundPolicy(), "https://auth.example.com/token", *addresses)
    assert Recording.sent == []


async def test_the_checked_address_is_connected_to_and_tls_keeps_the_name() -> None:
    sent = await _send(OutboundPolicy(), "https://auth.example.com/token", "93.184.215.14")
    assert sent == [("https://93.184.215.14/token", "auth.example.com", "auth.example.com")]


async def test_a_connect_to_target_is_checked_too() -> None:
    mapped = OutboundPolicy(connect_to=ConnectTo.parse("auth.example.com=127.0.0.1:8443"))
    with pytest.raises(AddressRefused):
        await _send(mapped, "https://auth.example.com/token", "93.184.215.14")
    assert Recording.sent == []
    allowed = OutboundPolicy(True, mapped.connect_to)
    assert await _send(allowed, "https://auth.example.com/token") == [
        ("https://127.0.0.1:8443/token", "auth.example.com", "auth.example.com")]


async def test_with_private_networks_allowed_the_request_goes_as_usual() -> None:
    sent = await _send(OutboundPolicy(True), "http://127.0.0.1:9999/token", "127.0.0.1")
    assert sent == [("http://127.0.0.1:9999/token", None, "127.0.0.1:9999")]


async def test_an_unresolvable_host_is_a_connection_failure() -> None:
    transport = OutboundTransport(OutboundPolicy())
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(UnresolvableHost):
            await client.get("https://no-such-host.invalid/x")


def test_a_refused_address_is_the_connectors_fault_not_the_grants() -> None:
    error = from_transport(AddressRefused("auth.example.com resolves to a non-public address"))
    assert error.code == ADDRESS_REFUSED
    assert not error.transient and not error.grant_revoked


async def test_a_refusal_names_the_request_like_any_connection_error() -> None:
    transport = OutboundTransport(OutboundPolicy(), resolver=resolving_to("127.0.0.1"))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AddressRefused) as refused:
            await client.get("https://auth.example.com/x")
    assert refused.value.request.url.host == "auth.example.com"
