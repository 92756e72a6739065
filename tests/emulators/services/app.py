"""``create_app()``: one Starlette app for all the emulated services, with a request log."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import control, google, stripe, trello
from .state import ServicesState


class RequestLog:
    """Record each provider-facing request (not the control API): method, path, status, the
    auth scheme used and the query with secret values redacted."""

    def __init__(self, app: ASGIApp, state: ServicesState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        status = {"code": 0}

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, observed_send)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.state.log(scope["method"], scope["path"], query, headers, status["code"])


def create_app(state: ServicesState | None = None) -> Starlette:
    services = state or ServicesState()
    app = Starlette(routes=[*control.routes, *google.routes, *trello.routes, *stripe.routes])
    app.state.services = services
    app.add_middleware(RequestLog, state=services)
    return app
