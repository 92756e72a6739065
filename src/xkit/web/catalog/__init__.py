"""The hosted catalog (``{base}/``, ``{base}/connectors/{slug}``) and the browser SDK
(``{base}/xkit.js``).

The pages are shells: the platform's name and branding are rendered here, and everything about
the end user comes from the browser API through xkit.js. The end user arrives with the context
token in the URL *fragment* (``{base}/#context_token=…``), which browsers never send to a server,
so it cannot land in access logs or ``Referer`` headers; the page moves it to ``sessionStorage``.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from xkit.db.models import Platform
from xkit.http.routes import PageRoute
from xkit.http.runtime import get_runtime
from xkit.services.configuration.branding import effective_branding
from xkit.services.configuration.platforms import find_platform
from xkit.web.flow import script_json

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
XKIT_JS = Path(__file__).resolve().parents[1] / "static" / "xkit.js"
# Only plain origins go into the CSP header: nothing that could end a directive.
_HEADER_SAFE_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


async def _platform(request: Request) -> Platform | None:
    async with get_runtime(request).sessions() as session:
        return await find_platform(session, request.path_params["platform_slug"])


def content_security_policy(nonce: str, platform: Platform) -> str:
    """Scripts and styles only with this response's nonce; the browser API on our own origin;
    framing only by the platform's allowed origins (the catalog may be shown in an iframe)."""
    ancestors = " ".join(o for o in platform.allowed_origins if _HEADER_SAFE_ORIGIN.match(o))
    return (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; "
            f"form-action 'none'; frame-ancestors 'self' {ancestors}".rstrip())


def _not_found(request: Request) -> Response:
    nonce = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(request, "not_found.html", {"nonce": nonce},
                                          status_code=404)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; frame-ancestors 'none'")
    return response


async def catalog_page(request: Request) -> Response:
    """The hosted catalog, or one connector's page in it."""
    platform = await _platform(request)
    if platform is None:
        return _not_found(request)
    public_url = get_runtime(request).settings.public_url
    base = f"{public_url}/p/{platform.slug}"
    nonce = secrets.token_urlsafe(16)
    branding = effective_branding(platform.branding)
    config: dict[str, Any] = {
        "base": base,
        "platform": {"slug": platform.slug, "name": platform.name},
        "connector": request.path_params.get("connector"),
        "login_redirect_url": platform.login_redirect_url,
        "theme": {"--xkit-primary": branding["primary_color"]},
    }
    response = templates.TemplateResponse(request, "catalog.html", {
        "platform": platform, "branding": branding, "base": base,
        "nonce": nonce, "config_json": script_json(config)})
    response.headers["Content-Security-Policy"] = content_security_policy(nonce, platform)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def catalog_root(request: Request) -> Response:
    """``{base}`` without the slash: relative links and the fragment need ``{base}/``."""
    public_url = get_runtime(request).settings.public_url
    return RedirectResponse(f"{public_url}/p/{request.path_params['platform_slug']}/",
                            status_code=308)


async def xkit_js(request: Request) -> Response:
    """The SDK. Any page may load it (a <script> needs no CORS); what it may *do* is limited
    by the browser API's CORS and the context token."""
    if await _platform(request) is None:
        return Response("// no such platform\n", status_code=404,
                        media_type="application/javascript")
    return FileResponse(XKIT_JS, media_type="application/javascript; charset=utf-8", headers={
        "Cache-Control": "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    })


routes = [
    PageRoute("/p/{platform_slug}/xkit.js", xkit_js, methods=["GET", "HEAD"]),
    PageRoute("/p/{platform_slug}", catalog_root, methods=["GET"]),
    PageRoute("/p/{platform_slug}/", catalog_page, methods=["GET"]),
    PageRoute("/p/{platform_slug}/connectors/{connector}", catalog_page, methods=["GET"]),
]
