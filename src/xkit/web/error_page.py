"""A small HTML error page, for answers that reach a person's browser before any page's own
error handling can: a request body over the size limit, an error escaping a page.

APIs keep their JSON error bodies; which paths are pages is decided here, once.
"""

from __future__ import annotations

import re
from html import escape

from starlette.responses import HTMLResponse

# The dashboard, and the end-user pages under /p/{platform}/ (catalog, popup, callback) —
# but not the browser API at /p/{platform}/api/…
_PAGE_PATH = re.compile(r"^/admin(/|$)|^/p/[^/]+(/(?!api(/|$))|$)|^/sandbox/authorize$")
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def is_page_path(path: str) -> bool:
    """Whether ``path`` is a page people open in a browser (HTML), not an API (JSON)."""
    return bool(_PAGE_PATH.match(path))


def render(status: int, title: str, message: str) -> bytes:
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
        "padding:0 1rem;color:#1f2933}</style></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p>"
        f"<p><small>HTTP {status}</small></p></body></html>"
    ).encode()


def headers(body: bytes) -> list[tuple[bytes, bytes]]:
    """The raw ASGI headers of the page, for middleware that answers without an app."""
    return [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"cache-control", b"no-store"),
    ]


def response(status: int, title: str, message: str) -> HTMLResponse:
    return HTMLResponse(
        render(status, title, message),
        status_code=status,
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"},
    )
