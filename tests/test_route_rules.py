"""What happens to a request is declared with its route, not matched from its URL: a route
added to the browser API's router answers CORS and JSON errors, a page route answers HTML
errors (413 and 429 too) and keeps its rate limit, the proxy's routes take larger bodies.

Each test adds a throwaway route — at a path no rule was ever written for, where it can — and
sees it get the rule with nothing else touched. The app is xkit's own, on the real database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tests.support.xkit import PlatformCredentials, XkitEnvironment
from xkit.api import platform_user
from xkit.api.platform import connections, proxy
from xkit.app import create_app
from xkit.errors import NotFound
from xkit.http.rate_limit import PUBLIC_PAGES, RateLimits
from xkit.http.routes import PageRoute
from xkit.runtime import Runtime

ORIGIN = "https://app.example.test"  # the platform fixture allows it


@contextmanager
def throwaway(router: APIRouter, path: str, endpoint: Any, methods: list[str]) -> Iterator[None]:
    """``endpoint`` on ``router`` for the test, declared as any route of that router is."""
    router.add_api_route(path, endpoint, methods=methods, include_in_schema=False)
    added = router.routes[-1]
    try:
        yield
    finally:
        router.routes.remove(added)


@asynccontextmanager
async def client(runtime: Runtime, *pages: PageRoute,
                 **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    app.state.runtime = runtime  # what the lifespan does
    if settings:
        app.state.rate_limits = RateLimits(runtime.settings.model_copy(update=settings))
    app.router.routes.extend(pages)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://xkit.test") as http:
        yield http


async def _missing() -> None:
    raise NotFound("nothing to see", code="thing_not_found")


def test_a_new_browser_api_route_answers_cors_and_json_errors(
    xkit_environment: XkitEnvironment, platform: PlatformCredentials
) -> None:
    async def check(runtime: Runtime) -> None:
        async with client(runtime) as http:
            url = f"/p/{platform.slug}/api/platform_user/throwaway"
            preflight = await http.options(url, headers={
                "Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == ORIGIN
            answered = await http.get(url, headers={"Origin": ORIGIN})
            assert answered.status_code == 404
            assert answered.json()["error"]["code"] == "thing_not_found"
            assert answered.headers["access-control-allow-origin"] == ORIGIN
            assert answered.headers["vary"] == "Origin"
            foreign = await http.get(url, headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in foreign.headers
            refused = await http.options(url, headers={
                "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
            assert refused.status_code == 403
            assert "access-control-allow-origin" not in refused.headers

    with throwaway(platform_user.router, "/throwaway", _missing, ["GET"]):
        xkit_environment.with_runtime(check)


async def _page(request: Request) -> Response:
    if request.method == "POST":
        return PlainTextResponse(f"{len(await request.body())} bytes")
    raise NotFound("there is no such page", code="page_not_found")


def test_a_new_page_answers_html_errors_and_keeps_its_rate_limit(
    xkit_environment: XkitEnvironment, platform: PlatformCredentials
) -> None:
    """At /p/{platform}/… as a newcomer would add it, and at a path no rule ever named."""
    async def check(runtime: Runtime) -> None:
        pages = [PageRoute(path, _page, methods=["GET", "POST"], rate_limit=PUBLIC_PAGES)
                 for path in ("/p/{platform_slug}/throwaway", "/elsewhere/{platform_slug}")]
        for path in (f"/p/{platform.slug}/throwaway", f"/elsewhere/{platform.slug}"):
            async with client(runtime, *pages, rate_limit_public_per_minute=3) as http:
                missing = await http.get(path)
                assert missing.status_code == 404
                assert missing.headers["content-type"].startswith("text/html")
                assert "There is no such page." in missing.text
                huge = await http.post(path, content=b"x" * 1_100_000)
                assert huge.status_code == 413
                assert huge.headers["content-type"].startswith("text/html")
                assert "That was too large" in huge.text
                assert (await http.post(path, content=b"small")).text == "5 bytes"
                limited = await http.get(path)
                assert limited.status_code == 429
                assert limited.headers["content-type"].startswith("text/html")
                assert int(limited.headers["retry-after"]) >= 1
                assert "Too many attempts" in limited.text

    xkit_environment.with_runtime(check)


async def _size(request: Request) -> dict[str, int]:
    return {"received": len(await request.body())}


def test_a_new_proxy_route_takes_the_proxy_body_limit_and_others_keep_theirs(
    xkit_environment: XkitEnvironment,
) -> None:
    async def check(runtime: Runtime) -> None:
        body = b"x" * 2_000_000  # over XKIT_MAX_BODY_BYTES, under the proxy's 25 MiB
        async with client(runtime) as http:
            through_proxy = await http.post("/api/platform/proxy-throwaway", content=body)
            assert through_proxy.json() == {"received": len(body)}
            elsewhere = await http.post("/api/platform/throwaway", content=body)
            assert elsewhere.status_code == 413
            assert elsewhere.json()["error"]["code"] == "payload_too_large"

    with (throwaway(proxy.router, "/proxy-throwaway", _size, ["POST"]),
          throwaway(connections.router, "/throwaway", _size, ["POST"])):
        xkit_environment.with_runtime(check)
