"""Request body limits: XKIT_MAX_BODY_BYTES for every route, unless the route that took the
request declares its own (the proxy's routes carry uploads: XKIT_PROXY_MAX_BODY_BYTES).

The limit is checked as the body is read, which is after routing: so the route's declared
limit is known, and the 413 is raised inside the route, where its error style (JSON or an
HTML page) renders it like any other error. Starlette's own body-limit middleware would
answer a declared oversize body with its plain-text 413 instead, whatever the route.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Set by a route that takes another limit than the app's (before it reads the body).
ROUTE_LIMIT_KEY = "xkit.max_body_bytes"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        declared = dict(scope["headers"]).get(b"content-length")

        async def limited_receive() -> Message:
            nonlocal received
            limit: int = scope.get(ROUTE_LIMIT_KEY, self.max_bytes)
            too_large = HTTPException(413, f"request body over the limit of {limit} bytes")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                raise too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        await self.app(scope, limited_receive, send)
