"""CORS for the browser API, per platform: only the platform's allowed origins may call it.

Declared by the browser API's router (``APIRouter(route_class=BrowserApiRoute)``), so a route
added to it answers cross-origin calls, preflights included, without anything else to change.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from xkit.services.configuration import platforms

ALLOWED_METHODS = "GET, POST, PATCH, DELETE"
ALLOWED_HEADERS = "authorization, content-type"
MAX_AGE = "600"


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
            allowed = origin in await platforms.allowed_origins(
                session, scope["path_params"].get("platform_slug", ""))
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
