"""A scrubbed access log: the one ASGI middleware, outside every route, since it matches no
URL and must see each answer."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xkit import metrics

access_log = logging.getLogger("xkit.access")


def route_template(scope: Scope) -> str | None:
    """The template of the route that answered (``/api/platform/contexts/{external_id}``),
    which groups requests the way a dashboard wants; None when no route took the request.

    A route knows its template relative to the routers and mounts it sits in; their prefix is
    what the path has before the template filled in with the request's path parameters."""
    template = getattr(scope.get("route"), "path_format", None)
    if not isinstance(template, str):
        return None
    path: str = scope["path"]
    try:
        filled = template.format(**scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return template
    return path[: len(path) - len(filled)] + template if path.endswith(filled) else template


class AccessLog:
    """One line per request with method, path (never the query string: it may carry an OAuth
    code or state), status and duration; the route's template goes in the structured fields.

    The same answer is counted in ``xkit_http_request_duration_seconds`` by route template
    (never the path: it carries ids), method and status."""

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
            seconds = time.perf_counter() - started
            duration_ms = round(seconds * 1000, 1)
            route = route_template(scope)
            method = scope["method"]
            metrics.get().observe_request(
                route or metrics.UNMATCHED_ROUTE,
                method if method in metrics.METHODS else metrics.OTHER,
                str(status),
                seconds,
            )
            if access_log.isEnabledFor(logging.INFO):
                # Made and handed to the logger's handlers as ``access_log.info`` would, but
                # without looking up the caller's file and line (a walk up the stack on every
                # request, for fields no formatter of xkit's shows).
                access_log.handle(access_log.makeRecord(
                    access_log.name, logging.INFO, "", 0, "%s %s %s %.1fms",
                    (method, scope["path"], status, duration_ms), None,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": duration_ms,
                    },
                ))
