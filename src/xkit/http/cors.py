"""CORS for the browser API, per platform: only the platform's allowed origins may call it.

Declared by the browser API's router (``APIRouter(route_class=BrowserApiRoute)``), so a route
added to it answers cross-origin calls, preflights included, without anything else to change.

A refused origin gets nothing it could read (a preflight without CORS headers), so the
browser tells the page only "network error". Two things make the mistake findable: the
server logs the refused origin at WARNING (once a minute per platform and origin, so a busy
page cannot flood the log), and xkit.js asks the origin probe
(``GET …/api/platform_user/origin``, readable from any origin, no credentials) why, and
prints the fix in the console.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from urllib.parse import urlsplit

from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from xkit.services.configuration import platforms

ALLOWED_METHODS = "GET, POST, PATCH, DELETE"
ALLOWED_HEADERS = "authorization, content-type"
MAX_AGE = "600"
# What a developer must change to allow an origin: named in the log line and the probe.
ALLOWED_ORIGINS_SETTING = ("the platform's allowed_origins (dashboard: the platform's Settings "
                           "→ Allowed web origins)")

log = logging.getLogger("xkit.cors")


class RefusedOriginLog:
    """Logs a refused origin at WARNING at most once per ``interval`` seconds for each
    (platform, origin): the first refusal is what a developer needs to see, the thousandth is
    noise. Remembers at most ``capacity`` pairs (the oldest forgotten first), so origins
    made up by a client cannot grow it without bound."""

    def __init__(self, interval: float = 60.0, capacity: int = 1024) -> None:
        self.interval = interval
        self.capacity = capacity
        self._last: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        """How many (platform, origin) pairs it remembers."""
        return len(self._last)

    def refused(self, platform_slug: str, origin: str) -> bool:
        """Log this refusal unless the same pair was logged within the interval; says whether
        it logged."""
        key = (platform_slug[:100], origin[:200])
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.capacity:
            self._last.popitem(last=False)
        log.warning("refused a browser API call from origin %s to platform %s: add it to %s",
                    key[1], key[0], ALLOWED_ORIGINS_SETTING)
        return True


def _own_origin(public_url: str) -> str:
    """xkit's own origin: the hosted catalog's calls carry it, and are same-origin."""
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_preflight(scope: Scope) -> bool:
    return scope["method"] == "OPTIONS" and "access-control-request-method" in Headers(
        scope=scope)


class BrowserApiRoute(APIRoute):
    """A browser-API route: answers its own preflight, and marks every answer (errors
    included) for the origin that sent it when that origin is one of the platform's."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.PARTIAL and _is_preflight(scope):
            return Match.FULL, child_scope  # the path is ours; only its method is not
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin")
        if origin is None:
            await super().handle(scope, receive, send)
            return
        runtime = scope["app"].state.runtime
        async with runtime.sessions() as session:
            slug = scope["path_params"].get("platform_slug", "")
            allowed = origin in await platforms.allowed_origins(session, slug)
        if not allowed and origin != _own_origin(runtime.settings.public_url):
            refusals: RefusedOriginLog | None = getattr(scope["app"].state, "refused_origins",
                                                        None)
            if refusals is not None:
                refusals.refused(slug, origin)
        if _is_preflight(scope):
            await _preflight(send, origin if allowed else None)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"vary", b"Origin")]
                if allowed:
                    extra.append((b"access-control-allow-origin", origin.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await super().handle(scope, receive, send_with_cors)


async def _preflight(send: Send, origin: str | None) -> None:
    headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
    if origin is not None:
        headers += [(b"access-control-allow-origin", origin.encode()),
                    (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                    (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                    (b"access-control-max-age", MAX_AGE.encode())]
    await send({"type": "http.response.start", "status": 204 if origin else 403,
                "headers": headers})
    await send({"type": "http.response.body", "body": b""})
