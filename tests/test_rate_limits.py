"""Login and the public popup/callback pages are rate limited per client; APIs with a key are
not. (The limits are per process: see xkit.api.rate_limit.)"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.xkit import XkitEnvironment, XkitServer, create_platform


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
