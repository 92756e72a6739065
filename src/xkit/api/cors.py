"""CORS for the browser API, per platform: only the platform's allowed origins may call it.

Origins are configuration that changes rarely but must take effect everywhere at once, so each
request reads them from the database (one indexed lookup) rather than from a process cache.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xkit.db.models import Platform

_BROWSER_API = re.compile(r"^/p/([^/]+)/api/platform_user(?:/|$)")
ALLOWED_METHODS = "GET, POST, PATCH, DELETE"
ALLOWED_HEADERS = "authorization, content-type"
MAX_AGE = "600"


class PlatformUserCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _BROWSER_API.match(scope.get("path", "")) if scope["type"] == "http" else None
        origin = Headers(scope=scope).get("origin") if match else None
        if match is None or origin is None:
            await self.app(scope, receive, send)
            return
        allowed = origin in await self._allowed_origins(scope, match.group(1))
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(send, origin if allowed else None)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"vary", b"Origin")]
                if allowed:
                    extra.append((b"access-control-allow-origin", origin.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _allowed_origins(self, scope: Scope, slug: str) -> list[str]:
        runtime = scope["app"].state.runtime
        async with runtime.sessions() as session:
            origins = await session.scalar(select(Platform.allowed_origins)
                                           .where(Platform.slug == slug))
        return list(origins or [])

    async def _preflight(self, send: Send, origin: str | None) -> None:
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        if origin is not None:
            headers += [(b"access-control-allow-origin", origin.encode()),
                        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                        (b"access-control-max-age", MAX_AGE.encode())]
        await send({"type": "http.response.start", "status": 204 if origin else 403,
                    "headers": headers})
        await send({"type": "http.response.body", "body": b""})
