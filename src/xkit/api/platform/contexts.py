from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response

from xkit.api.deps import CallerDep, RuntimeDep, SessionDep
from xkit.api.schemas import (
    ContextEnvelope,
    ContextFields,
    ContextList,
    ContextOut,
    ContextWithToken,
    ErrorResponse,
    LegacyUserEnvelope,
    LegacyUserWithToken,
)
from xkit.runtime import Runtime
from xkit.services.configuration import contexts

router = APIRouter(tags=["contexts"])


async def _upsert_with_token(
    fields: ContextFields,
    caller: CallerDep,
    runtime: Runtime,
    session: SessionDep,
    response: Response,
) -> ContextWithToken:
    context, created = await contexts.upsert_context(
        session,
        caller.platform_id,
        external_id=fields.external_id,
        external_name=fields.external_name,
        attributes=fields.all_attributes(),
    )
    ttl = dt.timedelta(seconds=runtime.settings.context_token_ttl_seconds)
    token, expires_at = runtime.context_tokens.issue(
        platform_id=caller.platform_id, context_id=context.id, ttl=ttl
    )
    response.status_code = 201 if created else 200
    return ContextWithToken(
        context=ContextOut.model_validate(context, from_attributes=True),
        access_token=token,
        expires_at=expires_at,
        expires_in=int(ttl.total_seconds()),
    )


@router.post(
    "/contexts",
    response_model=ContextWithToken,
    status_code=200,
    summary="Create or update a context and get a context token for xkit.js",
    responses={201: {"model": ContextWithToken, "description": "Context created"}},
)
async def upsert_context(
    body: ContextEnvelope,
    caller: CallerDep,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> ContextWithToken:
    return await _upsert_with_token(body.context, caller, runtime, session, response)


@router.post(
    "/users",
    response_model=LegacyUserWithToken,
    status_code=200,
    deprecated=True,
    summary="Legacy Xkit name for POST /contexts",
)
async def upsert_user(
    body: LegacyUserEnvelope,
    caller: CallerDep,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> LegacyUserWithToken:
    result = await _upsert_with_token(body.user, caller, runtime, session, response)
    return LegacyUserWithToken(
        user=result.context,
        access_token=result.access_token,
        expires_at=result.expires_at,
        expires_in=result.expires_in,
    )


@router.get(
    "/contexts",
    response_model=ContextList,
    summary="The platform's contexts, a page at a time",
    responses={422: {"model": ErrorResponse}},
)
async def list_contexts(
    caller: CallerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200,
                                        description="next_cursor of the previous page")] = None,
) -> ContextList:
    found, next_cursor = await contexts.list_contexts(
        session, caller.platform_id, limit=limit, cursor=cursor)
    return ContextList(
        contexts=[ContextOut.model_validate(c, from_attributes=True) for c in found],
        next_cursor=next_cursor)


@router.get(
    "/contexts/{external_id}",
    response_model=ContextOut,
    summary="One context",
    responses={404: {"model": ErrorResponse}},
)
async def get_context(external_id: str, caller: CallerDep, session: SessionDep) -> ContextOut:
    context = await contexts.get_context(session, caller.platform_id, external_id)
    return ContextOut.model_validate(context, from_attributes=True)


@router.delete(
    "/contexts/{external_id}",
    status_code=204,
    summary="Delete a context with its connections and their credentials",
    responses={404: {"model": ErrorResponse}},
)
async def delete_context(external_id: str, caller: CallerDep, session: SessionDep) -> Response:
    await contexts.delete_context(session, caller.platform_id, external_id)
    return Response(status_code=204)
