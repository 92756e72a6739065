"""The Platform API: what a developer's backend calls with its secret API key."""

from fastapi import APIRouter

from xkit.api.platform import (
    connections,
    connectors,
    contexts,
    jwt_issuers,
    platform,
    providers,
    proxy,
    webhooks,
)
from xkit.api.schemas import ErrorResponse

router = APIRouter(
    prefix="/api",
    responses={
        401: {"model": ErrorResponse, "description": "Missing, invalid or revoked API key"},
        422: {"model": ErrorResponse, "description": "Invalid input"},
    },
)
# The token fetch's routes first: FastAPI tries the routes in order, at every level of
# inclusion, and this is the route every backend calls before each provider call (no two
# routes here answer the same method and path, so the order changes nothing else).
router.include_router(connections.router, prefix="/platform")
router.include_router(platform.router)
for module in (providers, connectors, contexts, proxy, webhooks, jwt_issuers):
    router.include_router(module.router, prefix="/platform")
