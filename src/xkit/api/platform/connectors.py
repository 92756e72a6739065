from __future__ import annotations

from fastapi import APIRouter, Response

from xkit.api.deps import CallerDep, PlatformDep, RuntimeDep, SessionDep
from xkit.api.schemas import (
    ConnectorCreate,
    ConnectorDeleted,
    ConnectorList,
    ConnectorOut,
    ConnectorUpdate,
    ErrorResponse,
)
from xkit.db.models import Connector
from xkit.runtime import Runtime
from xkit.services.configuration import connectors

router = APIRouter(prefix="/connectors", tags=["connectors"])


def _out(runtime: Runtime, caller: CallerDep, connector: Connector) -> ConnectorOut:
    return ConnectorOut(
        **connectors.describe_connector(
            connector,
            connectors.template_of(runtime.providers, connector),
            public_url=runtime.settings.public_url,
            platform_slug=caller.platform_slug,
        )
    )


@router.get("", response_model=ConnectorList, summary="The platform's connectors")
async def list_connectors(
    caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> ConnectorList:
    found = await connectors.list_connectors(session, caller.platform_id)
    return ConnectorList(connectors=[_out(runtime, caller, c) for c in found])


@router.post(
    "",
    response_model=ConnectorOut,
    status_code=201,
    summary="Create a connector",
    responses={409: {"model": ErrorResponse, "description": "Slug already taken"}},
)
async def create_connector(
    body: ConnectorCreate, caller: CallerDep, platform: PlatformDep, runtime: RuntimeDep,
    session: SessionDep,
) -> ConnectorOut:
    connector = await connectors.create_connector(
        session,
        runtime.connector_services,
        platform,
        body.model_dump(exclude_unset=True),
        actor=caller.actor,
    )
    return _out(runtime, caller, connector)


@router.get(
    "/{slug}",
    response_model=ConnectorOut,
    summary="One connector",
    responses={404: {"model": ErrorResponse}},
)
async def get_connector(
    slug: str, caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> ConnectorOut:
    return _out(runtime, caller, await connectors.get_connector(session, caller.platform_id, slug))


@router.patch(
    "/{slug}",
    response_model=ConnectorOut,
    summary="Change some of a connector's fields",
    responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
)
async def update_connector(
    slug: str, body: ConnectorUpdate, caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> ConnectorOut:
    connector = await connectors.get_connector(session, caller.platform_id, slug)
    connector = await connectors.update_connector(
        session,
        runtime.connector_services,
        connector,
        body.model_dump(exclude_unset=True),
        actor=caller.actor,
    )
    return _out(runtime, caller, connector)


@router.put(
    "/{slug}",
    response_model=ConnectorOut,
    summary="Create or update a connector by slug (configuration as code)",
    responses={
        201: {"model": ConnectorOut, "description": "Created"},
        409: {"model": ErrorResponse},
    },
)
async def put_connector(
    slug: str,
    body: ConnectorCreate,
    caller: CallerDep,
    platform: PlatformDep,
    runtime: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> ConnectorOut:
    connector, created = await connectors.upsert_connector(
        session,
        runtime.connector_services,
        platform,
        slug,
        body.model_dump(exclude_unset=True),
        actor=caller.actor,
    )
    response.status_code = 201 if created else 200
    return _out(runtime, caller, connector)


@router.delete(
    "/{slug}",
    response_model=ConnectorDeleted,
    summary="Delete a connector and every connection made with it",
    responses={404: {"model": ErrorResponse}},
)
async def delete_connector(slug: str, caller: CallerDep, session: SessionDep) -> ConnectorDeleted:
    connector = await connectors.get_connector(session, caller.platform_id, slug)
    removed = await connectors.delete_connector(session, connector, actor=caller.actor)
    return ConnectorDeleted(deleted=True, connections_removed=removed)
