"""Route classes that carry what happens to a request, so a route cannot forget a rule: it
gets the rule by how it is declared.

- :class:`PageRoute`: a page a person opens in a browser. Its errors (including 413 for a
  body over the limit and 429) are HTML pages; it may be declared with a rate limit.
- Every other route answers errors as JSON (:func:`error_style`).
- CORS is declared by the browser API's router (:mod:`xkit.http.cors`); the proxy's larger
  body limit by the proxy's routes (:mod:`xkit.api.platform.proxy`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from xkit.http.rate_limit import RateLimit, RateLimits


class ErrorStyle(StrEnum):
    JSON = "json"
    HTML = "html"


def error_style(scope: Scope) -> ErrorStyle:
    """The error style of the route that took the request; JSON where none did."""
    return getattr(scope.get("route"), "error_style", ErrorStyle.JSON)


class PageRoute(Route):
    """A page: HTML errors, and the rate limit it is declared with, checked before it runs."""

    error_style = ErrorStyle.HTML

    def __init__(self, path: str, endpoint: Callable[..., Any], *,
                 rate_limit: RateLimit | None = None, **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        self.rate_limit = rate_limit

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """As Starlette's, and it names itself in the scope (FastAPI's router does not for a
        plain route): the error handlers read the style from it."""
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.rate_limit is not None:
            limits: RateLimits = scope["app"].state.rate_limits
            limits.check(self.rate_limit, scope)
        await super().handle(scope, receive, send)
