"""ASGI middleware: request size limits and a scrubbed access log."""

from __future__ import annotations

import json
import logging
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xkit.web import error_page

access_log = logging.getLogger("xkit.access")


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with a 413, whether or not Content-Length is sent:
    JSON for APIs, a small HTML page for the pages people post forms from."""

    def __init__(self, app: ASGIApp, max_bytes: int, proxy_max_bytes: int | None = None) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.proxy_max_bytes = proxy_max_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The proxy carries uploads (mail attachments, files): it has its own, larger limit.
        proxied = scope["path"].startswith("/api/platform/proxy/")
        max_bytes = self.proxy_max_bytes if proxied else self.default_max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await _too_large(send, max_bytes, page=error_page.is_page_path(scope["path"]))
            return
        received = 0

        async def limited_receive() -> Message:
            # Raised inside the app, so the app's error handlers render it like any other 4xx.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, f"request body over {max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _too_large(send: Send, max_bytes: int, *, page: bool) -> None:
    message = f"request body over {max_bytes} bytes"
    if page:
        body = error_page.render(413, "That was too large",
                                 f"What you sent is over the limit of {max_bytes} bytes. "
                                 "Go back, shorten it and try again.")
        headers = error_page.headers(body)
    else:
        body = json.dumps({"error": {"code": "payload_too_large", "message": message}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One line per request with method, path (never the query string: it may carry an OAuth
    code or state), status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            access_log.info(
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                status,
                duration_ms,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
