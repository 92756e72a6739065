"""A small HTML error page, for answers that reach a person's browser before any page's own
error handling can: a request body over the size limit, too many attempts, an error escaping a
page. Which routes are pages is said by the routes themselves (:mod:`xkit.http.routes`).
"""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

from xkit.http.assets import FAVICON_URL

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'")


def render(status: int, title: str, message: str) -> bytes:
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<link rel=\"icon\" href=\"{FAVICON_URL}\" type=\"image/svg+xml\">"
        f"<title>{escape(title)}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
        "padding:0 1rem;color:#1f2933}</style></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p>"
        f"<p><small>HTTP {status}</small></p></body></html>"
    ).encode()


def response(status: int, title: str, message: str) -> HTMLResponse:
    return HTMLResponse(
        render(status, title, message),
        status_code=status,
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"},
    )
