from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from xkit.api.connection_schemas import (
    ConnectionDeleted,
    ConnectionWithToken,
    ContextConnectionList,
)
from xkit.api.deps import CallerDep, RuntimeDep, SessionDep
from xkit.api.schemas import ErrorResponse
from xkit.services import backend_connections

router = APIRouter(tags=["connections"])

# An access token must not be kept by a proxy or an HTTP cache on the way (RFC 6749, 5.1).
NO_STORE = {"Cache-Control": "no-store"}

SubjectParam = Annotated[str | None, Query(
    max_length=320,
    description="Service-account connections (jwt_bearer): a token acting as this user, "
                "e.g. someone@example.com (Google domain-wide delegation). Minted for this "
                "request and not stored.")]

_TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "subject_refused: the provider would not "
                                                 "let the app act as that subject"},
    404: {"model": ErrorResponse, "description": "Unknown context or no such connection"},
    409: {"model": ErrorResponse, "description": "reconnect_required: the user must reconnect"},
    503: {"model": ErrorResponse, "description": "provider_unavailable: retry after a moment"},
}


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
        session, caller.platform.id, external_id
    )
    return {"connections": found}


@router.get(
    "/contexts/{external_id}/connections/{connector_slug}",
    summary="A context's connection to a connector, with a fresh access token",
    response_model=ConnectionWithToken,
    response_model_exclude_unset=True,
    responses=_TOKEN_ERRORS,
)
async def get_context_connection(
    external_id: str,
    connector_slug: str,
    caller: CallerDep,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
    force_refresh: bool = False,
    subject: SubjectParam = None,
) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return await backend_connections.context_connection_with_token(
        session,
        runtime.token_deps,
        caller.platform.id,
        external_id,
        connector_slug,
        force_refresh=force_refresh,
        subject=subject,
    )


@router.get(
    "/connections/{connection_id}",
    summary="A connection by id, with a fresh access token",
    response_model=ConnectionWithToken,
    response_model_exclude_unset=True,
    responses=_TOKEN_ERRORS,
)
async def get_connection(
    connection_id: str,
    caller: CallerDep,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
    force_refresh: bool = False,
    subject: SubjectParam = None,
) -> dict[str, Any]:
    response.headers.update(NO_STORE)
    return await backend_connections.connection_with_token(
        session,
        runtime.token_deps,
        caller.platform.id,
        connection_id,
        force_refresh=force_refresh,
        subject=subject,
    )


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
        session, runtime.token_deps, caller.platform.id, connection_id, actor=caller.actor
    )
