"""The Platform API: what a developer's backend calls with its secret API key."""

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from xkit.api.deps import API_KEY_SCHEMES, API_KEY_SECURITY, takes_api_key
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


def declare_security(
    schema: dict[str, Any], routers: Iterable[tuple[APIRouter, str]] = ROUTERS
) -> None:
    """In ``schema`` (the app's OpenAPI document), every operation of these routers that takes
    a :data:`~xkit.api.deps.CallerDep` declares the API key schemes: a new route gets them by
    taking the caller. (The token routes, which take none, declare them themselves.)"""
    for router, prefix in routers:
        for route in router.routes:
            if not (isinstance(route, APIRoute) and route.include_in_schema
                    and takes_api_key(route.dependant)):
                continue
            operations = schema["paths"][prefix + route.path_format]
            for method in route.methods or ():
                operations[method.lower()].setdefault("security", API_KEY_SECURITY["security"])
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(
        API_KEY_SCHEMES)
