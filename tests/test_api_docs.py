"""``/docs`` and ``/openapi.json`` carry the security headers the other pages have, and the
Swagger page still runs under its Content-Security-Policy in a real Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.support.xkit import XkitServer
from xkit.api.docs import SWAGGER_CSS_URL, SWAGGER_JS_URL

# Stands in for Swagger UI's bundle (this machine reaches no CDN): it fetches the document the
# way Swagger UI does and writes what it found into the page.
FAKE_SWAGGER_UI = """
window.SwaggerUIBundle = function (options) {
  fetch(options.url).then((r) => r.json()).then((doc) => {
    const title = document.createElement("h1");
    title.id = "rendered";
    title.textContent = doc.info.title + ": " + Object.keys(doc.paths).length + " paths";
    document.querySelector(options.dom_id).appendChild(title);
  });
};
SwaggerUIBundle.presets = { apis: {} };
SwaggerUIBundle.SwaggerUIStandalonePreset = {};
"""


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
    docs = httpx.get(f"{xkit_server.url}/docs")
    nonce = re.search(r"'nonce-([^']+)'", docs.headers["content-security-policy"]).group(1)
    scripts = re.findall(r"<script[^>]*>", docs.text)
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert httpx.get(f"{xkit_server.url}/docs").headers["content-security-policy"] != \
        docs.headers["content-security-policy"]  # a fresh nonce each time
    assert httpx.get(f"{xkit_server.url}/openapi.json").json()["paths"]["/api/platform/contexts"]


@pytest.mark.browser
def test_the_swagger_page_runs_under_its_policy(browser: Any, xkit_server: XkitServer) -> None:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: complaints.append(str(e)))
    page.route(SWAGGER_JS_URL, lambda route: route.fulfill(
        body=FAKE_SWAGGER_UI, content_type="application/javascript"))
    page.route(SWAGGER_CSS_URL, lambda route: route.fulfill(
        body="#swagger-ui { color: #333 }", content_type="text/css"))
    page.route("https://fastapi.tiangolo.com/**", lambda route: route.fulfill(status=204))
    try:
        page.goto(f"{xkit_server.url}/docs")
        rendered = page.locator("#rendered")
        rendered.wait_for()
        assert re.fullmatch(r"xkit: \d+ paths", rendered.text_content() or "")
        assert complaints == []
    finally:
        context.close()
