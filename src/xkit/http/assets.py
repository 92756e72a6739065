"""Assets every page shares, served from files installed with the package: xkit's own
favicon.

Every page names the icon itself (``<link rel="icon" href="/favicon.svg">``), and
``/favicon.ico`` answers too, for browsers and tools that ask for it unprompted (a JSON
answer opened in a tab): without it they would fetch the icon of nobody, or log a 404.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

FAVICON_URL = "/favicon.svg"
FAVICON_FILE = Path(__file__).resolve().parents[1] / "web" / "static" / "favicon.svg"


async def favicon(_request: Request) -> Response:
    return FileResponse(FAVICON_FILE, media_type="image/svg+xml", headers={
        "Cache-Control": "public, max-age=86400",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
    })


routes = [
    Route(FAVICON_URL, favicon, methods=["GET", "HEAD"]),
    Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
]
