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

:class:`xkit.outbound.OutboundTransport` applies the rules, and checks the address a rule
names like any other: with private networks not allowed, a rule may not point inside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
