"""Assets every page shares, served from what is installed with the package: xkit's own
favicon, and each provider template's mark (:mod:`xkit.providers.marks`).

Every page names the icon itself (``<link rel="icon" href="/favicon.svg">``), and
``/favicon.ico`` answers too, for browsers and tools that ask for it unprompted (a JSON
answer opened in a tab): without it they would fetch the icon of nobody, or log a 404.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from xkit.http.runtime import get_runtime
from xkit.providers.marks import mark_svg, mark_version

FAVICON_URL = "/favicon.svg"
FAVICON_FILE = Path(__file__).resolve().parents[1] / "web" / "static" / "favicon.svg"


async def favicon(_request: Request) -> Response:
    return FileResponse(FAVICON_FILE, media_type="image/svg+xml", headers={
        "Cache-Control": "public, max-age=86400",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
    })


async def mark(request: Request) -> Response:
    """A template's mark. Pages name it with its version (``?v=``), so that URL is cached for a
    year; another version's URL is answered with the current mark, cached briefly. Embedded
    catalogs show it on the developer's own origin, hence Cross-Origin-Resource-Policy."""
    providers = get_runtime(request).providers
    slug = request.path_params["slug"]
    if slug not in providers:
        return Response("no such provider template\n", status_code=404, media_type="text/plain")
    template = providers.get(slug)
    version = mark_version(template)
    etag = f'"{version}"'
    headers = {
        "Cache-Control": ("public, max-age=31536000, immutable"
                          if request.query_params.get("v") == version else "public, max-age=300"),
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(mark_svg(template), media_type="image/svg+xml", headers=headers)


routes = [
    Route(FAVICON_URL, favicon, methods=["GET", "HEAD"]),
    Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
    Route("/marks/{slug}.svg", mark, methods=["GET", "HEAD"]),
]
