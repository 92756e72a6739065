"""Operator endpoints: liveness, readiness and the Prometheus metrics."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from xkit import metrics
from xkit.api.deps import RuntimeDep
from xkit.errors import NotFound, Unauthorized

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, runtime: RuntimeDep) -> Response:
    """The Prometheus text format, for a scraper that sends ``XKIT_METRICS_TOKEN`` as a
    bearer token. Metrics say how much traffic each route and provider gets, so they are not
    public: with no token configured this answers 404, as if there were no such page."""
    configured = runtime.settings.metrics_token
    if configured is None:
        raise NotFound("not found")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    expected = configured.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(),
                                                             expected):
        raise Unauthorized("send the metrics token as Authorization: Bearer <token>",
                           code="invalid_metrics_token")
    metrics.sample_pool(runtime.engine.sync_engine.pool)  # this process's share, as of now
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
