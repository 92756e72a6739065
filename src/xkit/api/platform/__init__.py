"""The Platform API: what a developer's backend calls with its secret API key."""

from fastapi import APIRouter, FastAPI

from xkit.api.platform import (
    connections,
    connectors,
    contexts,
    jwt_issuers,
    mail,
    mail_events,
    platform,
    providers,
    proxy,
    webhooks,
)
from xkit.api.schemas import ErrorResponse

RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "Missing, invalid or revoked API key"},
    422: {"model": ErrorResponse, "description": "Invalid input"},
}

#: Each router with its prefix. The token fetch's first: FastAPI tries the routes in order,
#: and this is the route every backend calls before each provider call (no two routes here
#: answer the same method and path, so the order changes nothing else).
ROUTERS: tuple[tuple[APIRouter, str], ...] = (
    (connections.router, "/api/platform"),
    (platform.router, "/api"),
    *((module.router, "/api/platform")
      for module in (providers, connectors, contexts, proxy, mail, mail_events, webhooks,
                     jwt_issuers)),
)


def include(app: FastAPI) -> None:
    """Each router straight into the app rather than through one router of routers: FastAPI
    walks every level of inclusion on every request, checking each route of each level."""
    for router, prefix in ROUTERS:
        app.include_router(router, prefix=prefix, responses=RESPONSES)
