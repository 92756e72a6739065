"""Allowed web origins are compared exactly with what browsers send (CORS, postMessage), so
they are checked and written the way browsers serialise an origin."""

from __future__ import annotations

import pytest

from xkit.errors import InvalidInput
from xkit.services.configuration.validation import check_origin

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),  # the default port
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),  # what browsers send
        ("https://straße.example", "https://xn--strae-oqa.example"),  # UTS #46, not IDNA 2003
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://my_app.internal", "https://my_app.internal"),
    ],
)
def test_origins_are_stored_as_browsers_send_them(typed: str, stored: str) -> None:
    assert check_origin(typed) == stored


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("https://x.test:99999", "invalid port"),
        ("https://x.test:0", "invalid port"),
        ("https://x.test:http", "invalid port"),
        (f"https://{'a' * 64}.test", "valid host name"),  # a label over 63 characters
        (f"https://{'a.' * 130}test", "longer than 253"),
        ("https://a..test", "valid host name"),
        ("https://-a.test", "valid host name"),
        ("https://a$b.test", "valid host name"),
        ("https://x.test.", "valid host name"),
        ("https://x\u0000.test", "control characters"),
        ("https://x.test/", "not an origin"),
        ("ftp://x.test", "not an origin"),
    ],
)
def test_odd_origins_are_refused_with_a_reason(typed: str, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_origin(typed)
    assert says in refused.value.message
    assert len(refused.value.message) < 200  # a long value is shortened, not echoed whole
