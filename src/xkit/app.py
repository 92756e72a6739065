"""The ASGI application: ``create_app(settings)`` wires routers, middleware and the lifespan."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from xkit import __version__, metrics, telemetry
from xkit.api import docs, ops, platform_user
from xkit.api import platform as platform_api
from xkit.http import assets
from xkit.http.access_log import AccessLog
from xkit.http.body_limit import BodyLimit
from xkit.http.cors import RefusedOriginLog
from xkit.http.errors import install_error_handlers
from xkit.http.rate_limit import RateLimits
from xkit.runtime import Runtime, start_runtime
from xkit.settings import Settings
from xkit.web import admin as admin_dashboard
from xkit.web import catalog, flow, home, sandbox
from xkit.worker import BackgroundWorker

DESCRIPTION = """\
xkit gives your users a catalog of integrations and gives your backend fresh OAuth tokens.

**Platform API** (`/api/platform/…`): authenticate with your API key, either HTTP Basic
`publishable:secret` or `Authorization: Bearer <secret>`. Errors are JSON:
`{"error": {"code": "...", "message": "..."}}`.
"""


class XkitApp(FastAPI):
    """FastAPI, and a way to stop the worker beside it.

    What happens to a request is declared with its route (:mod:`xkit.http.routes`): CORS by
    the browser API's router, rate limits and HTML errors by the page routes, the proxy's
    body limit by its routes. The app adds only two layers that match no URL: the default
    body limit and the access log.
    """

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, with the Platform API's key schemes declared."""
        schema = super().openapi()
        platform_api.declare_security(schema)
        return schema

    def begin_stop(self) -> None:
        """A stop was asked for (SIGTERM): the worker beside the server takes no new work,
        while the server lets requests in flight finish. Safe from a signal handler."""
        worker: BackgroundWorker | None = getattr(self.state, "worker", None)
        if worker is not None:
            worker.begin_stop()


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> XkitApp:
    """Build the app. Pass ``runtime`` to share one already started (tests, embedding);
    otherwise the app starts its own from ``settings`` — with the worker beside it unless
    ``XKIT_WORKER_ENABLED`` is off — and closes both on shutdown."""
    settings = runtime.settings if runtime is not None else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        started = await start_runtime(settings)
        app.state.runtime = started
        worker = BackgroundWorker(started) if settings.worker_enabled else None
        if worker is not None:
            worker.start()
        app.state.worker = worker
        # Each process writes its own share of the pool gauges; a scrape sums them.
        sampler = asyncio.create_task(metrics.sample_pool_forever(started.engine.sync_engine.pool))
        # What start-up built (templates, routes, models: ~160,000 objects) lives as long as
        # the process; left to the collector, each full collection walks all of it and stalls
        # every request in flight for 50-90 ms (bench/: the token fetch's p99).
        gc.freeze()
        try:
            yield
        finally:
            sampler.cancel()
            if worker is not None:
                await worker.stop()
            await started.close()
            # Each serving process (one of several, with --workers) takes its share out of
            # the live gauges as it stops.
            metrics.process_exiting()

    app = XkitApp(
        title="xkit",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # served by xkit.api.docs, with the security headers FastAPI's own routes lack
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # FastAPI's own OpenTelemetry spans (newer FastAPI makes them whenever a tracer
        # provider is set) would record raw paths and query strings: xkit.telemetry traces.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.rate_limits = RateLimits(settings)
    app.state.refused_origins = RefusedOriginLog()
    install_error_handlers(app)
    # The Platform API first: its token fetch is the busiest route, and FastAPI tries the
    # routes in order (no route of ops or docs shares a path with it).
    platform_api.include(app)
    app.include_router(ops.router)
    app.include_router(docs.router)
    app.router.routes.extend(assets.routes)
    app.router.routes.extend(home.routes)
    app.include_router(platform_user.router)
    app.include_router(platform_user.origin_probe)
    app.router.routes.extend(flow.routes)
    app.router.routes.extend(catalog.routes)
    if settings.sandbox:
        app.router.routes.extend(sandbox.routes)
    admin_dashboard.mount(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # routes may raise it
    app.add_middleware(AccessLog)
    if telemetry.start() is not None:  # outermost: the access log line is inside the span
        telemetry.instrument_app(app)
    return app
