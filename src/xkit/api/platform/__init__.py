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
router.include_router(platform.router)
for module in (providers, connectors, contexts, connections, proxy, webhooks, jwt_issuers):
    router.include_router(module.router, prefix="/platform")
