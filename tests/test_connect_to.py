"""XKIT_PROVIDER_CONNECT_TO: a provider's host reached at another address, TLS still checked
against the provider's own name."""

from __future__ import annotations

import pytest

from xkit.connect_to import ConnectTo
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
