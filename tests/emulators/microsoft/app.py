"""``create_app()``: the emulator's Starlette application, one app for both hosts.

Login paths (``/{tenant}/oauth2/v2.0/...``) and Graph paths (``/v1.0/...``) don't collide, so a
single HTTPS port serves as both ``login_host`` and ``graph_host`` of xkit's Outlook connector.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import admin_consent, control, graph, identity
from .state import EmulatorState, redact_pairs


class RequestLog:
    """Record every provider-facing request (not the control API) with secrets redacted.

    Written as plain ASGI so the body is observed as the handler reads it, without buffering
    it twice, and so a request still in progress (say, held by a delay fault) is already listed.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        entry = self.state.start_log_entry(scope["method"], scope["path"], query, headers)
        entry["raw_path"] = scope.get("raw_path", b"").decode("latin-1")
        chunks: list[bytes] = []

        async def observed_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, observed_receive, observed_send)
        finally:
            content_type = headers.get("content-type", "")
            if chunks and content_type.startswith("application/x-www-form-urlencoded"):
                body = b"".join(chunks).decode("utf-8", "replace")
                entry["form"] = redact_pairs(parse_qsl(body, keep_blank_values=True))


def create_app(
    state: EmulatorState | None = None, *, seed: dict[str, Any] | None = None
) -> Starlette:
    """Build the emulator; ``seed`` has the shape of ``POST /_emulator/seed``."""
    emulator_state = state or EmulatorState()
    if seed:
        emulator_state.load_seed(seed)
    routes = [*control.routes, *graph.routes, *admin_consent.routes, *identity.routes]
    app = Starlette(routes=routes)
    app.state.emulator = emulator_state
    app.add_middleware(RequestLog, state=emulator_state)
    return app
