"""Every page xkit serves loads everything from xkit's own origin (no CDN, no font or icon
host), and the root URL that ``xkit serve`` prints first is a page a person can use."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.flow import new_end_user
from tests.support.xkit import PlatformCredentials, XkitServer


def test_the_root_links_the_dashboard_the_docs_and_health(xkit_server: XkitServer) -> None:
    root = httpx.get(f"{xkit_server.url}/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in root.headers["content-security-policy"]
    links = re.findall(r'<a [^>]*href="([^"]+)"', root.text)
    assert {"/admin", "/docs", "/healthz"} <= set(links)
    for link in links:  # each one answers (the dashboard with its login form)
        assert httpx.get(f"{xkit_server.url}{link}", follow_redirects=True).status_code == 200
    assert httpx.head(f"{xkit_server.url}/").status_code == 200
    assert '<link rel="icon" href="/favicon.svg"' in root.text
    assert httpx.get(f"{xkit_server.url}/favicon.ico").headers["content-type"] == "image/svg+xml"


def test_xkit_serve_prints_the_root_first(xkit_server: XkitServer) -> None:
    first = next(line for line in xkit_server.output().splitlines() if xkit_server.url in line)
    assert first.strip() == f"xkit is running at {xkit_server.url}"


@pytest.mark.browser
def test_every_page_loads_only_from_xkit(
        browser: Any, xkit_server: XkitServer, platform: PlatformCredentials,
        api: httpx.Client) -> None:
    created = api.post("/api/platform/connectors", json={
        "provider": "outlook-email", "client_id": "app-id", "client_secret": "app-secret",
        "scopes": ["User.Read"]})
    assert created.status_code == 201, created.text
    token = new_end_user(xkit_server, platform).token
    base = f"{xkit_server.url}/p/{platform.slug}"
    pages = {
        "root": (f"{xkit_server.url}/", "text=Dashboard"),
        "API docs": (f"{xkit_server.url}/docs", ".opblock"),
        "dashboard login": (f"{xkit_server.url}/admin/login", "input[name=password]"),
        "hosted catalog": (f"{base}/#context_token={token}", "text=Outlook"),
        "popup loading": (f"{base}/authorizations/loading", "body"),
        "popup result": (f"{base}/callback?state=unknown&code=nope", "text=/./"),
        "not found": (f"{xkit_server.url}/p/no-such-platform/", "text=Not found"),
    }
    context = browser.new_context()
    context.set_default_timeout(20_000)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith(f"{xkit_server.url}/") else route.abort())
    requested: dict[str, list[str]] = {}
    icons: dict[str, str | None] = {}
    try:
        for name, (url, ready) in pages.items():
            page = context.new_page()
            seen = requested.setdefault(name, [])
            page.on("request", lambda request, seen=seen: seen.append(request.url))
            page.goto(url)
            page.locator(ready).first.wait_for()
            page.wait_for_load_state("networkidle")
            icons[name] = page.locator('link[rel~="icon"]').first.get_attribute("href")
            page.close()
    finally:
        context.close()
    origin = f"http://{urlsplit(xkit_server.url).netloc}"
    foreign = {name: [u for u in urls if not u.startswith(origin + "/")]
               for name, urls in requested.items()}
    assert foreign == {name: [] for name in pages}
    assert icons == {name: "/favicon.svg" for name in pages}  # our own, on every page
    assert len(requested["API docs"]) >= 4  # the page, its script and style, the document
