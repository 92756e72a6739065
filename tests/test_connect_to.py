"""XKIT_PROVIDER_CONNECT_TO: a provider's host reached at another address, TLS still checked
against the provider's own name."""

from __future__ import annotations

import ipaddress
import ssl

import httpx
import pytest

from tests.emulators.oauth_quirks.fixture import QuirkEmulator
from xkit.connect_to import ConnectTo
from xkit.outbound import OutboundPolicy, OutboundTransport
from xkit.settings import Settings


@pytest.mark.database_independent
def test_rules_match_exact_hosts_and_subdomains_in_order() -> None:
    rules = ConnectTo.parse(" slack.com=10.0.0.5:443 , *.zendesk.com=[::1]:8443,"
                            "*.com=192.0.2.1:443")
    assert rules.target("slack.com") == ("10.0.0.5", 443)
    assert rules.target("SLACK.com") == ("10.0.0.5", 443)
    assert rules.target("acme.zendesk.com") == ("::1", 8443)
    assert rules.target("zendesk.com") == ("192.0.2.1", 443)  # *.x is subdomains only
    assert rules.target("example.org") is None
    assert not ConnectTo.parse("") and rules


@pytest.mark.database_independent
@pytest.mark.parametrize("spec", ["slack.com", "slack.com=10.0.0.5", "https://slack.com=a:1",
                                  "slack.com=10.0.0.5:99999", "*=10.0.0.5:443"])
def test_malformed_rules_are_refused_at_start_up(spec: str) -> None:
    with pytest.raises(ValueError, match="provider_connect_to"):
        Settings(provider_connect_to=spec)


async def test_a_redirected_host_keeps_its_name_for_tls_and_host(
        quirk_emulator: QuirkEmulator) -> None:
    rules = ConnectTo.parse(f"accounts.google.com=127.0.0.1:{quirk_emulator.port},"
                            f"unlisted.example=127.0.0.1:{quirk_emulator.port}")
    context = ssl.create_default_context(cafile=str(quirk_emulator.ca_file))
    # the emulator listens on loopback: reachable only with private networks allowed
    transport = OutboundTransport(OutboundPolicy(allow_private_networks=True, connect_to=rules),
                                  options={"verify": context})
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await client.get("https://accounts.google.com/_emulator/health")
        assert answer.status_code == 200 and answer.json() == {"ok": True}
        # the emulator's certificate does not name this host: the connection is refused
        with pytest.raises(httpx.ConnectError, match="certificate"):
            await client.get("https://unlisted.example/_emulator/health")


@pytest.mark.database_independent
async def test_a_pinned_address_is_used_and_each_host_keeps_its_own_pool() -> None:
    """The transport connects to the address its check vetted. Two providers behind one
    address must still not share a connection opened with the other's TLS name."""
    seen: list[tuple[str, str | None, str]] = []
    made: list[object] = []

    class Recording(httpx.AsyncBaseTransport):
        def __init__(self, **_options: object) -> None:
            made.append(self)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append((str(request.url), request.extensions.get("sni_hostname"),
                         request.headers["host"]))
            return httpx.Response(204)

    async def resolver(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("93.184.215.14")]

    transport = OutboundTransport(OutboundPolicy(), make_transport=Recording,  # type: ignore[arg-type]
                                  resolver=resolver)
    async with httpx.AsyncClient(transport=transport) as client:
        for host in ("api.one.example", "api.two.example", "api.one.example"):
            await client.get(f"https://{host}/v1/x?y=1")
    assert seen == [
        ("https://93.184.215.14/v1/x?y=1", "api.one.example", "api.one.example"),
        ("https://93.184.215.14/v1/x?y=1", "api.two.example", "api.two.example"),
        ("https://93.184.215.14/v1/x?y=1", "api.one.example", "api.one.example"),
    ]
    assert len(made) == 2, "one pool per host name, not per address"
