"""The running xkit a request is served by (set on the app by its lifespan)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from xkit.runtime import Runtime


def get_runtime(request: HTTPConnection) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]  # Starlette's State is untyped
