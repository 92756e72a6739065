"""The root URL, ``{public}/``: the first address ``xkit serve`` prints.

A small page linking the dashboard, the API docs and the health checks, rather than a redirect
to the dashboard: the dashboard asks for a login first, and the people who open the root are
as often a developer after the API docs or an operator checking the server as the admin. The
page needs no database and no sign-in, so it answers even when the database does not (its
health links then say so).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from xkit import __version__
from xkit.http.assets import FAVICON_URL
from xkit.http.routes import PageRoute

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


async def home(request: Request) -> Response:
    nonce = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(request, "home.html", {
        "nonce": nonce, "version": __version__, "favicon_url": FAVICON_URL})
    response.headers.update({
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-cache",
    })
    return response


routes = [PageRoute("/", home, methods=["GET", "HEAD"])]
