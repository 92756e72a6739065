"""The OpenAPI document and its Swagger UI page, sent with the security headers every other
page has, and working with no network beyond xkit itself.

FastAPI's own ``/docs`` and ``/openapi.json`` routes send none: the page could be framed
(clickjacking a "Try it out" with a pasted key), sniffed, or leak a Referer. These routes serve
the same content with them. Swagger UI's script and stylesheet come from the
``fastapi-offline`` package (installed with xkit; it ships Swagger UI's release files), served
under ``/docs/assets/``, never from a CDN: the page works on a network that reaches nothing
but xkit, and the Content-Security-Policy allows this origin alone. The page's scripts run
under a nonce, so the policy needs no ``'unsafe-inline'`` for scripts.
"""

from __future__ import annotations

import secrets
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from xkit.errors import NotFound
from xkit.http.assets import FAVICON_URL

OPENAPI_URL = "/openapi.json"
ASSETS_URL = "/docs/assets"
# The files a page may ask for, by name: nothing else of the package's folder is served.
ASSETS = {
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
_ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
# In each asset URL, so that an upgrade of the package is never answered from a stale cache.
_ASSETS_VERSION = version("fastapi-offline")
SWAGGER_JS_URL = f"{ASSETS_URL}/swagger-ui-bundle.js?v={_ASSETS_VERSION}"
SWAGGER_CSS_URL = f"{ASSETS_URL}/swagger-ui.css?v={_ASSETS_VERSION}"
# Swagger UI's defaults, less the badge that sends the document to validator.swagger.io.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}

COMMON_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def swagger_policy(nonce: str) -> str:
    """Scripts: only the nonced ones. Styles: Swagger UI sets style attributes, which no nonce
    covers, so inline styles are allowed (styles run no code). Everything it loads — its
    files, the document, "Try it out" calls, icons — comes from this origin or is data:."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
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
        swagger_favicon_url=FAVICON_URL, swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )
    html = bytes(page.body).decode().replace("<script", f'<script nonce="{nonce}"')
    return HTMLResponse(html, headers={
        **COMMON_HEADERS, "Content-Security-Policy": swagger_policy(nonce)})


@router.get(ASSETS_URL + "/{name}")
async def swagger_asset(name: str) -> FileResponse:
    """Swagger UI's script and stylesheet. Cached for a day: the URL changes with the
    package's version."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound("no such asset", code="asset_not_found")
    return FileResponse(_ASSETS_DIR / name, media_type=media_type, headers={
        "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
