"""Login and the public popup/callback pages are rate limited per client; APIs with a key are
not. (The limits are per process: see xkit.api.rate_limit.)"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.xkit import XkitEnvironment, XkitServer, create_platform
from xkit.settings import Settings


def test_login_and_public_pages_are_limited_and_apis_are_not(
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    fresh_environment.extra = {"XKIT_RATE_LIMIT_LOGIN_PER_MINUTE": "3",
                               "XKIT_RATE_LIMIT_PUBLIC_PER_MINUTE": "5"}
    server = XkitServer(fresh_environment, tmp_path / "serve.log")
    try:
        platform = create_platform(fresh_environment, "acme")
        with httpx.Client(base_url=server.url) as browser:
            guesses = [browser.post("/admin/login", data={
                "email": "dev@example.test", "password": f"guess {n}"}).status_code
                for n in range(4)]
            assert guesses[:3] == [403, 403, 403]  # no form token: refused, but counted
            limited = browser.post("/admin/login", data={"email": "dev@example.test"})
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1
            assert "Too many attempts" in limited.text
            assert browser.get("/admin/login").status_code == 200  # the form itself is not

            callbacks = [browser.get("/p/acme/callback", params={"state": f"guess-{n}"})
                         for n in range(6)]
            assert [r.status_code for r in callbacks] == [400] * 5 + [429]
        with platform.client(server) as api:
            assert {api.get("/api/platform").status_code for _ in range(20)} == {200}
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def _login(browser: httpx.Client, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return browser.post("/admin/login", data={"email": "dev@example.test", "password": "guess"},
                        headers=headers).status_code


def test_a_spoofed_forwarded_for_does_not_get_a_fresh_bucket(
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    """By default no proxy is trusted: X-Forwarded-For from the client itself is ignored."""
    fresh_environment.extra = {"XKIT_RATE_LIMIT_LOGIN_PER_MINUTE": "3"}
    server = XkitServer(fresh_environment, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=server.url) as attacker:
            assert [_login(attacker) for _ in range(3)] == [403] * 3
            assert _login(attacker) == 429
            spoofed = [_login(attacker, f"203.0.113.{n}") for n in range(1, 4)]
            assert spoofed == [429] * 3
    finally:
        server.stop()


def test_clients_behind_a_trusted_proxy_have_buckets_of_their_own(
        fresh_environment: XkitEnvironment, tmp_path: Path) -> None:
    """A reverse proxy at 127.0.0.2 (another host, as far as xkit can tell) forwards two
    users: one guessing passwords does not lock the other out."""
    fresh_environment.extra = {"XKIT_RATE_LIMIT_LOGIN_PER_MINUTE": "3",
                               "XKIT_TRUSTED_PROXIES": "127.0.0.2, 10.0.0.0/8"}
    server = XkitServer(fresh_environment, tmp_path / "serve.log")
    proxy = httpx.HTTPTransport(local_address="127.0.0.2")
    try:
        with httpx.Client(base_url=server.url, transport=proxy) as through_proxy:
            assert [_login(through_proxy, "198.51.100.7") for _ in range(4)] == [403] * 3 + [429]
            assert _login(through_proxy, "198.51.100.8") == 403  # someone else: not locked out
            assert _login(through_proxy, "198.51.100.7") == 429
            # A client can't pick its address by prepending to the chain the proxy appends to.
            assert _login(through_proxy, "198.51.100.9, 198.51.100.7") == 429
        with httpx.Client(base_url=server.url) as direct:  # 127.0.0.1 is no trusted proxy
            assert [_login(direct, f"203.0.113.{n}") for n in range(4)] == [403] * 3 + [429]
    finally:
        server.stop()
    assert "Traceback" not in server.output()


@pytest.mark.database_independent
def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert Settings().trusted_proxies == []
    assert Settings(trusted_proxies=" 10.1.2.3, 10.0.0.1/8,,::1 ").trusted_proxies == [
        "10.1.2.3", "10.0.0.0/8", "::1"]
    with pytest.raises(ValueError, match="'proxy.internal' is not an IP address"):
        Settings(trusted_proxies="proxy.internal")
