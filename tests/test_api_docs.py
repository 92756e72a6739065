"""``/docs`` and ``/openapi.json`` carry the security headers the other pages have, and the
Swagger page works offline: its files come from the package xkit installs (fastapi-offline),
so a Chromium that can reach nothing but xkit still lists the operations."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.xkit import XkitServer


def test_docs_and_openapi_carry_security_headers(xkit_server: XkitServer) -> None:
    for path in ("/docs", "/openapi.json"):
        response = httpx.get(f"{xkit_server.url}{path}")
        assert response.status_code == 200, path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[-1].split(";")[0]
        assert "http" not in policy  # no other origin is allowed anything
    docs = httpx.get(f"{xkit_server.url}/docs")
    nonce = re.search(r"'nonce-([^']+)'", docs.headers["content-security-policy"]).group(1)
    scripts = re.findall(r"<script[^>]*>", docs.text)
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert httpx.get(f"{xkit_server.url}/docs").headers["content-security-policy"] != \
        docs.headers["content-security-policy"]  # a fresh nonce each time
    assert httpx.get(f"{xkit_server.url}/openapi.json").json()["paths"]["/api/platform/contexts"]


def test_swagger_ui_files_are_served_by_xkit(xkit_server: XkitServer) -> None:
    docs = httpx.get(f"{xkit_server.url}/docs").text
    linked = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert linked and all(not urlsplit(url).netloc for url in linked), linked
    script = next(url for url in linked if "swagger-ui-bundle.js" in url)
    style = next(url for url in linked if "swagger-ui.css" in url)
    for url, kind in ((script, "javascript"), (style, "text/css")):
        answer = httpx.get(f"{xkit_server.url}{url}")
        assert answer.status_code == 200, url
        assert kind in answer.headers["content-type"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "max-age" in answer.headers["cache-control"]
    assert "SwaggerUIBundle" in httpx.get(f"{xkit_server.url}{script}").text
    icon = httpx.get(f"{xkit_server.url}/favicon.svg")
    assert '<link rel="shortcut icon" href="/favicon.svg">' in docs
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")
    unknown = httpx.get(f"{xkit_server.url}/docs/assets/favicon.png")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "asset_not_found"
    assert httpx.get(f"{xkit_server.url}/docs/assets/..%2F__init__.py").status_code == 404


@pytest.mark.browser
def test_the_swagger_page_lists_the_operations_offline(
        browser: Any, xkit_server: XkitServer) -> None:
    context = browser.new_context()
    context.set_default_timeout(20_000)
    elsewhere: list[str] = []

    def only_xkit(route: Any) -> None:
        if route.request.url.startswith(f"{xkit_server.url}/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_xkit)
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: complaints.append(str(e)))
    try:
        page.goto(f"{xkit_server.url}/docs")
        create_context = page.locator(".opblock", has_text="/api/platform/contexts").first
        create_context.wait_for()
        assert page.locator(".opblock").count() > 20
        assert "xkit" in (page.locator(".info .title").text_content() or "")
        create_context.locator(".opblock-summary").first.click()  # it opens, as a person sees
        page.locator(".opblock-body").first.wait_for()
        assert elsewhere == [] and complaints == []
    finally:
        context.close()
