"""Login CSRF in a real browser: a page on a sibling host tosses a signed form cookie of the
attacker's into the victim's Chromium and posts the attacker's credentials to xkit's login.

Cookies ignore ports, so a page on ``127.0.0.1:<other port>`` can set cookies that
``127.0.0.1:<xkit's port>`` receives: the same position as a sibling subdomain. The signed pair
is one the attacker fetched from xkit itself, so only the browser's word about where the form
came from (Fetch Metadata, ``Origin``) can tell it apart.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.support.browser import PASSWORD, Dashboard, create_admin, csrf_field
from tests.support.xkit import XkitEnvironment, XkitServer

pytestmark = pytest.mark.browser

TOSSING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Totally harmless</title></head>
<body>
<form id="login" method="post" action="{action}">
  <input type="hidden" name="csrf_token" value="{token}">
  <input type="hidden" name="email" value="{email}">
  <input type="hidden" name="password" value="{password}">
</form>
<script>
  document.cookie = "xkit_admin_form=" + {token_js} + "; path=/admin";
  document.getElementById("login").submit();
</script>
</body></html>
"""


@contextmanager
def sibling_site(page_html: str) -> Iterator[str]:
    """A page served from 127.0.0.1 on another port: same site as xkit, another origin."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            body = page_html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_sibling_page_cannot_log_the_victim_into_the_attackers_account(
        xkit_environment: XkitEnvironment, xkit_server: XkitServer, browser: Browser) -> None:
    attacker = create_admin(xkit_environment, f"mallory-{secrets.token_hex(4)}@example.test")
    with Dashboard(xkit_server) as mallory:  # a signed pair, fetched from xkit like anyone can
        form_page = mallory.get("/admin/login")
        token = csrf_field(form_page.text)
        assert form_page.cookies["xkit_admin_form"] == token
    page_html = TOSSING_PAGE.format(action=f"{xkit_server.url}/admin/login", token=token,
                                    token_js=json.dumps(token), email=attacker,
                                    password=PASSWORD)
    context = browser.new_context()
    try:
        victim = context.new_page()
        with sibling_site(page_html) as url:
            with victim.expect_response(f"{xkit_server.url}/admin/login") as posted:
                victim.goto(url)
            assert posted.value.status == 403
        victim.wait_for_load_state()
        assert "Nothing was changed" in victim.content()
        session_cookies = [c for c in context.cookies(xkit_server.url)
                           if c["name"] == "xkit_admin_session"]
        assert not session_cookies
        victim.goto(f"{xkit_server.url}/admin/platforms")
        assert "/admin/login" in victim.url  # still signed out, in nobody's account

        # The victim's own login, from xkit's page, still works in the same browser.
        own = create_admin(xkit_environment, f"ada-{secrets.token_hex(4)}@example.test")
        victim.goto(f"{xkit_server.url}/admin/login")
        victim.get_by_label("Email").fill(own)
        victim.get_by_label("Password").fill(PASSWORD)
        victim.get_by_role("button", name="Log in").click()
        victim.wait_for_url(f"{xkit_server.url}/admin/**")
        assert "/admin/login" not in victim.url
    finally:
        context.close()
