from __future__ import annotations

from typing import Annotated, Any, Literal, NoReturn

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from xkit.api.connection_schemas import (
    ConnectionDeleted,
    ConnectionWithToken,
    ContextConnection,
    ContextConnectionList,
    PlatformConnectionList,
)
from xkit.api.deps import (
    API_KEY_SECURITY,
    CallerDep,
    PlatformDep,
    RuntimeDep,
    SessionDep,
    parse_credentials,
)
from xkit.api.schemas import ErrorResponse
from xkit.errors import InvalidInput
from xkit.http.runtime import get_runtime
from xkit.services.configuration import contexts
from xkit.services.connect import from_backend
from xkit.services.tokens import backend_connections
from xkit.services.tokens import fetch as token_fetch

router = APIRouter(tags=["connections"])

# An access token must not be kept by a proxy or an HTTP cache on the way (RFC 6749, 5.1).
NO_STORE = {"Cache-Control": "no-store"}

SUBJECT_MAX_LENGTH = 320
SUBJECT_DESCRIPTION = (
    "Service-account connections (jwt_bearer): a token acting as this user, e.g. "
    "someone@example.com (Google domain-wide delegation). Minted for this request and not "
    "stored.")

_TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "subject_refused: the provider would not "
                                                 "let the app act as that subject"},
    404: {"model": ErrorResponse, "description": "Unknown context or no such connection"},
    409: {"model": ErrorResponse, "description": "reconnect_required: the user must reconnect"},
    503: {"model": ErrorResponse, "description": "provider_unavailable: retry after a moment"},
}


# The token fetch runs before every provider call of every backend, so its routes solve no
# dependencies and no parameters: the key is checked by the one statement that reads
# everything else (services/tokens/fetch.py), the path and query are read by the handler
# (FastAPI's solving them was a tenth of a fetch's CPU). The API key schemes and the
# parameters are only declared here, for /docs, as FastAPI would have declared them.
_TOKEN_QUERY: list[dict[str, Any]] = [
    {"in": "query", "name": "force_refresh", "required": False,
     "schema": {"default": False, "title": "Force Refresh", "type": "boolean"}},
    {"in": "query", "name": "subject", "required": False, "description": SUBJECT_DESCRIPTION,
     "schema": {"anyOf": [{"maxLength": SUBJECT_MAX_LENGTH, "type": "string"},
                          {"type": "null"}],
                "description": SUBJECT_DESCRIPTION, "title": "Subject"}},
]
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _token_route(*path_parameters: str) -> dict[str, Any]:
    """The OpenAPI extras of a token route: its security, path and query parameters."""
    declared = [{"in": "path", "name": name, "required": True,
                 "schema": {"title": name.replace("_", " ").title(), "type": "string"}}
                for name in path_parameters]
    return {**API_KEY_SECURITY, "parameters": [*declared, *_TOKEN_QUERY]}


def _token_query(request: Request) -> tuple[bool, str | None]:
    """``force_refresh`` and ``subject``, refused as FastAPI's validation would refuse them."""
    query = request.query_params
    force_refresh = False
    if (flag := query.get("force_refresh")) is not None:
        if flag.lower() in _TRUE:
            force_refresh = True
        elif flag.lower() not in _FALSE:
            _refuse("force_refresh", "Input should be a valid boolean, unable to interpret "
                    "input", "bool_parsing")
    subject = query.get("subject")
    if subject is not None and len(subject) > SUBJECT_MAX_LENGTH:
        _refuse("subject", f"String should have at most {SUBJECT_MAX_LENGTH} characters",
                "string_too_long")
    return force_refresh, subject


def _refuse(name: str, message: str, kind: str) -> NoReturn:
    raise InvalidInput(f"{name}: {message}", details={"field": name, "type": kind})


@router.get(
    "/contexts/{external_id}/connections",
    summary="A context's connections (no tokens)",
    response_model=ContextConnectionList,
    response_model_exclude_unset=True,
    responses={404: {"model": ErrorResponse}},
)
async def list_context_connections(
    external_id: str, caller: CallerDep, session: SessionDep
) -> dict[str, Any]:
    found = await backend_connections.list_context_connections(
        session, caller.platform_id, external_id
    )
    return {"connections": found}


class BackendConnect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connector: str = Field(..., max_length=200, description="the connector's slug")
    fields: dict[str, str] = Field(
        default_factory=dict, description="answers to the connector's collect fields "
                                          "(an account or enterprise ID)")


@router.post(
    "/contexts/{external_id}/connections",
    status_code=201,
    summary="Connect a context from your backend (client credentials, service accounts, "
            "API keys): no browser",
    response_model=ContextConnection,
    response_model_exclude_unset=True,
    responses={404: {"model": ErrorResponse, "description": "Unknown context or connector"},
               409: {"model": ErrorResponse, "description": "browser_required: the user "
                                                           "signs in at the provider"},
               422: {"model": ErrorResponse, "description": "invalid_field, or the "
                                                           "provider's code: refused"}},
)
async def connect_context(
    external_id: str, body: BackendConnect, caller: CallerDep, platform: PlatformDep,
    runtime: RuntimeDep, session: SessionDep,
) -> dict[str, Any]:
    """The connection is active when this answers; fetch its token as any other."""
    context = await contexts.get_context(session, caller.platform_id, external_id)
    view = await from_backend.connect_context(session, runtime.flow_deps, platform,
                                              context, body.connector, body.fields)
    return backend_connections.describe(view, None)


@router.get(
    "/connections",
    summary="The platform's connections (no tokens), filtered, a page at a time",
    response_model=PlatformConnectionList,
    response_model_exclude_unset=True,
    responses={422: {"model": ErrorResponse}},
)
async def list_platform_connections(
    caller: CallerDep,
    session: SessionDep,
    connector: Annotated[str | None, Query(max_length=255, description="A connector slug")] = None,
    status: Annotated[Literal["connected", "error", "pending", "disabled", "not_authorized"]
                      | None, Query(description="error: the user must reconnect")] = None,
    context: Annotated[str | None, Query(max_length=255,
                                         description="A context's external_id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200,
                                        description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    return await backend_connections.list_platform_connections(
        session, caller.platform_id, limit=limit, cursor=cursor, connector=connector,
        status=status, context=context)


@router.get(
    "/contexts/{external_id}/connections/{connector_slug}",
    summary="A context's connection to a connector, with a fresh access token",
    response_model=ConnectionWithToken,
    response_model_exclude_unset=True,
    responses=_TOKEN_ERRORS,
    openapi_extra=_token_route("external_id", "connector_slug"),
)
async def get_context_connection(request: Request) -> JSONResponse:
    path = request.path_params
    return await _fetch(request, token_fetch.ByConnector(path["external_id"],
                                                         path["connector_slug"]))


@router.get(
    "/connections/{connection_id}",
    summary="A connection by id, with a fresh access token",
    response_model=ConnectionWithToken,
    response_model_exclude_unset=True,
    responses=_TOKEN_ERRORS,
    openapi_extra=_token_route("connection_id"),
)
async def get_connection(request: Request) -> JSONResponse:
    return await _fetch(request, token_fetch.ById(request.path_params["connection_id"]))


async def _fetch(request: Request, target: token_fetch.Target) -> JSONResponse:
    """The answer as a response of its own: the body is built by the service, and a return
    value FastAPI validated and serialised again would cost a tenth of the fetch."""
    force_refresh, subject = _token_query(request)
    publishable, secret = parse_credentials(request.headers.get("authorization"))
    body = await token_fetch.fetch_token(
        get_runtime(request).token_deps, target, secret=secret, publishable_key=publishable,
        force_refresh=force_refresh, subject=subject)
    return JSONResponse(body, headers=NO_STORE)


@router.delete(
    "/connections/{connection_id}",
    summary="Remove a connection, revoking its grant at the provider when possible",
    response_model=ConnectionDeleted,
    response_model_exclude_unset=True,
    responses={404: {"model": ErrorResponse}},
)
async def delete_connection(
    connection_id: str, caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    return await backend_connections.remove_connection(
        session, runtime.token_deps, caller.platform_id, connection_id, actor=caller.actor
    )
