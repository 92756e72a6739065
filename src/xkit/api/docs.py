"""The OpenAPI document and its Swagger UI page, sent with the security headers every other
page has.

FastAPI's own ``/docs`` and ``/openapi.json`` routes send none: the page could be framed
(clickjacking a "Try it out" with a pasted key), sniffed, or leak a Referer. These routes serve
the same content with them. The page's scripts run under a nonce, so the CSP needs no
``'unsafe-inline'`` for scripts; where Swagger UI's files come from (a CDN today) is read from
the URLs below, so changing them keeps the policy right.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

OPENAPI_URL = "/openapi.json"
SWAGGER_JS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
FAVICON_URL = "https://fastapi.tiangolo.com/img/favicon.png"

COMMON_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _source(url: str) -> str:
    """What a CSP source list needs to allow ``url``: its origin, or ``'self'``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "'self'"


def swagger_policy(nonce: str) -> str:
    """Scripts: only the nonced ones. Styles: Swagger UI sets style attributes, which no nonce
    covers, so inline styles are allowed (styles run no code). It fetches the document and
    "Try it out" calls from this origin and shows data: icons."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}' {_source(SWAGGER_JS_URL)}; "
        f"style-src 'unsafe-inline' {_source(SWAGGER_CSS_URL)}; "
        f"img-src 'self' data: {_source(FAVICON_URL)}; connect-src 'self'; font-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


@router.get(OPENAPI_URL)
async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi(), headers={
        **COMMON_HEADERS, "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"})


@router.get("/docs")
async def swagger_page(request: Request) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL, title=f"{request.app.title} — API docs",
        swagger_js_url=SWAGGER_JS_URL, swagger_css_url=SWAGGER_CSS_URL,
        swagger_favicon_url=FAVICON_URL,
    )
    html = bytes(page.body).decode().replace("<script", f'<script nonce="{nonce}"')
    return HTMLResponse(html, headers={
        **COMMON_HEADERS, "Content-Security-Policy": swagger_policy(nonce)})
