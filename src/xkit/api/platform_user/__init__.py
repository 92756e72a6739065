"""The browser API: what ``xkit.js`` calls with a context token.

Everything here is scoped twice: to the platform in the URL (which must be the token's) and to
the token's context. Nothing here ever returns a credential.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from xkit.api.browser_schemas import (
    CatalogConnectorList,
    CatalogConnectorWithConnections,
    PopupLink,
    PublicConnectionList,
    PublicPlatform,
    SessionOut,
    UserJwtLogin,
    UserJwtSession,
)
from xkit.api.connection_schemas import PublicAuthorization, PublicConnection
from xkit.api.deps import RuntimeDep, SessionDep
from xkit.db.models import Authorization, Context, Platform
from xkit.errors import NotFound, Unauthorized
from xkit.http.cors import ALLOWED_ORIGINS_SETTING, BrowserApiRoute
from xkit.http.errors import error_response
from xkit.services.configuration import connectors, platforms
from xkit.services.connect import catalog, context_tokens, one_time_tokens, user_jwt
from xkit.services.connect import flow as authorizations
from xkit.services.connect.collect import submit_collected
from xkit.services.tokens import backend_connections, connections

POPUP_TOKEN_TTL = dt.timedelta(seconds=60)

# Every route here answers CORS for the platform's allowed origins: the router says so.
router = APIRouter(prefix="/p/{platform_slug}/api/platform_user", tags=["browser API"],
                   route_class=BrowserApiRoute)


# The origin probe is the one browser-API path any origin may read: it holds nothing but
# whether the asking origin is allowed, which a refused preflight tells anyway.
origin_probe = APIRouter(prefix="/p/{platform_slug}/api/platform_user", tags=["browser API"])


class OriginCheck(BaseModel):
    origin: str | None = Field(..., description="the Origin header the browser sent")
    platform: str
    allowed: bool
    setting: str = Field(..., description="where an origin is allowed")
    message: str = Field(..., description="for the developer's console")


@origin_probe.get(
    "/origin", summary="Is the calling page's origin allowed? (readable from any origin)",
    response_model=OriginCheck,
    responses={404: {"description": "platform_not_found"}},
)
async def check_origin(platform_slug: str, request: Request, response: Response,
                       session: SessionDep) -> Any:
    """A refused preflight lets the page read nothing, so xkit.js asks here why its calls
    failed and prints the fix. No credentials, no data: only the answer for the origin that
    asks."""
    readable = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
    response.headers.update(readable)
    platform = await platforms.find_platform(session, platform_slug)
    if platform is None:  # readable too: a wrong slug in the script's URL is the other mistake
        return error_response(404, "platform_not_found",
                              f"no platform with slug {platform_slug!r}", headers=readable)
    origin = request.headers.get("origin")
    allowed = origin is not None and origin in platform.allowed_origins
    if origin is None:
        message = "no Origin header: this probe answers for the page that calls it"
    elif allowed:
        message = f"origin {origin} is allowed for platform {platform.slug!r}"
    else:
        message = (f"origin {origin} is not allowed for platform {platform.slug!r}: "
                   f"add it to {ALLOWED_ORIGINS_SETTING}")
    return {"origin": origin, "platform": platform.slug, "allowed": allowed,
            "setting": "allowed_origins", "message": message}


@dataclass(frozen=True)
class ContextCaller:
    platform: Platform
    context: Context


async def require_context(
    platform_slug: str, request: Request, runtime: RuntimeDep, session: SessionDep
) -> ContextCaller:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send the context token as 'Authorization: Bearer <token>'",
            code="missing_context_token",
        )
    platform, context = await context_tokens.authenticate(
        session, runtime.context_tokens, token.strip(), platform_slug)
    return ContextCaller(platform=platform, context=context)


CallerDep = Annotated[ContextCaller, Depends(require_context)]


class NewConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connector: str = Field(..., max_length=64, description="connector slug")
    id: str | None = Field(None, max_length=36, description="a UUID chosen by the client")


@router.get(
    "/session", summary="Who this context token is",
    response_model=SessionOut,
    response_model_exclude_unset=True,
)
async def get_session(caller: CallerDep) -> dict[str, Any]:
    return {
        "platform": catalog.public_platform(caller.platform),
        "context": {
            "external_id": caller.context.external_id,
            "external_name": caller.context.external_name,
        },
    }


@router.post(
    "/session", status_code=201,
    summary="Sign in with the app's own user JWT: the usual session, without a backend call",
    response_model=UserJwtSession,
    responses={401: {"description": "jwt_expired, jwt_not_yet_valid, jwt_audience, "
                                    "jwt_signature, jwt_issuer_unknown, jwt_algorithm, "
                                    "jwt_key_unknown, jwt_claims or jwt_malformed"},
               503: {"description": "jwks_unavailable: the issuer's JWKS could not be fetched"}},
)
async def create_session_from_user_jwt(
    platform_slug: str, body: UserJwtLogin, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    """The JWT is checked against the platform's JWT issuers (docs/xkit-js.md); its user id
    claim names the context, created on first sight with the name claim as its name."""
    found = await user_jwt.exchange(
        session, runtime.user_jwt, runtime.context_tokens, platform_slug, body.user_jwt,
        max_ttl=dt.timedelta(seconds=runtime.settings.context_token_ttl_seconds))
    return {
        "access_token": found.context_token,
        "token_type": "bearer",
        "expires_at": found.expires_at,
        "platform": catalog.public_platform(found.platform),
        "context": {"external_id": found.context.external_id,
                    "external_name": found.context.external_name},
    }


@router.get(
    "/platform", summary="The platform: name and branding",
    response_model=PublicPlatform,
    response_model_exclude_unset=True,
)
async def get_platform(caller: CallerDep) -> dict[str, Any]:
    return catalog.public_platform(caller.platform)


@router.get(
    "/connectors", summary="Connectors in the catalog",
    response_model=CatalogConnectorList,
    response_model_exclude_unset=True,
)
async def list_connectors(
    caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    found = await catalog.catalog_connectors(session, runtime.providers, caller.platform.id)
    return {"connectors": [catalog.public_connector(c, runtime.providers,
                                                  runtime.settings.public_url) for c in found]}


@router.get(
    "/connectors/{slug}", summary="One connector, with this context's connections",
    response_model=CatalogConnectorWithConnections,
    response_model_exclude_unset=True,
)
async def get_connector(
    slug: str, caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    connector = await catalog.catalog_connector(
        session, runtime.providers, caller.platform.id, slug
    )
    mine = await connections.list_context_connections(session, caller.context)
    return {
        **catalog.public_connector(connector, runtime.providers,
                                   runtime.settings.public_url),
        "connections": [
            catalog.public_connection(v) for v in mine if v.connector.id == connector.id
        ],
    }


@router.get(
    "/connections", summary="This context's connections",
    response_model=PublicConnectionList,
    response_model_exclude_unset=True,
)
async def list_connections(
    caller: CallerDep, session: SessionDep, connector: str | None = None
) -> dict[str, Any]:
    mine = await connections.list_context_connections(session, caller.context)
    return {
        "connections": [
            catalog.public_connection(v)
            for v in mine
            if connector is None or v.connector.slug == connector
        ]
    }


async def _my_connection(
    session: SessionDep, caller: ContextCaller, connection_id: str
) -> connections.ConnectionView:
    view = await connections.get_connection(session, caller.platform.id, connection_id)
    if view.context.id != caller.context.id:
        raise NotFound(f"no connection {connection_id!r}", code="connection_not_found")
    return view


@router.get(
    "/connections/{connection_id}", summary="One of this context's connections",
    response_model=PublicConnection,
    response_model_exclude_unset=True,
)
async def get_connection(
    connection_id: str, caller: CallerDep, session: SessionDep
) -> dict[str, Any]:
    return catalog.public_connection(await _my_connection(session, caller, connection_id))


@router.post(
    "/connections",
    status_code=201,
    summary="Start connecting: a connection with an authorization awaiting the provider",
    response_model=PublicConnection,
    response_model_exclude_unset=True,
)
async def create_connection(
    body: NewConnection, caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    view = await authorizations.begin_connection(
        session,
        runtime.flow_deps,
        caller.platform,
        caller.context,
        body.connector,
        connection_id=body.id,
    )
    return catalog.public_connection(view)


@router.post(
    "/connections/{connection_id}/reconnect",
    status_code=201,
    summary="Start a new authorization on an existing connection",
    response_model=PublicConnection,
    response_model_exclude_unset=True,
)
async def reconnect(
    connection_id: str, caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    existing = await _my_connection(session, caller, connection_id)
    view = await authorizations.begin_connection(
        session,
        runtime.flow_deps,
        caller.platform,
        caller.context,
        existing.connector.slug,
        reconnect_id=connection_id,
    )
    return catalog.public_connection(view)


@router.delete(
    "/connections/{connection_id}",
    status_code=204,
    summary="Remove a connection, revoking its grant at the provider when possible",
)
async def delete_connection(
    connection_id: str, caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> Response:
    await _my_connection(session, caller, connection_id)
    await backend_connections.remove_connection(
        session,
        runtime.token_deps,
        caller.platform.id,
        connection_id,
        actor=f"context:{caller.context.external_id}",
    )
    return Response(status_code=204)


async def _my_authorization(
    session: SessionDep, caller: ContextCaller, authorization_id: str
) -> tuple[Authorization, connections.ConnectionView]:
    authorization = await authorizations.find_authorization(
        session, caller.platform.id, authorization_id)
    missing = NotFound(f"no authorization {authorization_id!r}", code="authorization_not_found")
    if authorization is None:
        raise missing
    try:
        view = await _my_connection(session, caller, authorization.connection_id)
    except NotFound:
        raise missing from None  # another context's: say nothing of its connection
    await authorizations.settle_if_interrupted(session, authorization)
    return authorization, view


@router.get(
    "/authorizations/{authorization_id}", summary="Where a connect flow stands",
    response_model=PublicAuthorization,
    response_model_exclude_unset=True,
)
async def get_authorization(
    authorization_id: str, caller: CallerDep, session: SessionDep
) -> dict[str, Any]:
    authorization, _ = await _my_authorization(session, caller, authorization_id)
    return catalog.public_authorization(authorization) or {}


@router.post(
    "/authorizations/{authorization_id}/popup", summary="A one-time link for the popup",
    response_model=PopupLink,
    response_model_exclude_unset=True,
)
async def popup_link(
    authorization_id: str, caller: CallerDep, runtime: RuntimeDep, session: SessionDep
) -> dict[str, Any]:
    """The popup cannot carry the context token (it would sit in a URL); it gets a link with a
    single-use token that lives a minute, bound to this authorization."""
    authorization, _ = await _my_authorization(session, caller, authorization_id)
    token = await one_time_tokens.issue(
        session,
        purpose=one_time_tokens.POPUP_START,
        ttl=POPUP_TOKEN_TTL,
        platform_id=caller.platform.id,
        subject_id=authorization.id,
    )
    await session.commit()
    base = f"{runtime.settings.public_url}/p/{caller.platform.slug}"
    return {
        "url": f"{base}/authorizations/{authorization.id}/start?token={token}",
        "expires_in": int(POPUP_TOKEN_TTL.total_seconds()),
    }


class CollectedFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, str] = Field(..., description="answers to the connector's collect fields")


@router.post(
    "/authorizations/{authorization_id}/collect",
    summary="Submit the collect step (API key, subdomain, environment …)",
    response_model=PublicAuthorization,
    response_model_exclude_unset=True,
    responses={422: {"description": "invalid_field, or invalid_credentials: the provider "
                                    "refused the key or password; correct it and retry"}},
)
async def submit_collect(
    authorization_id: str,
    body: CollectedFields,
    caller: CallerDep,
    runtime: RuntimeDep,
    session: SessionDep,
) -> dict[str, Any]:
    """For API keys and passwords the answers are checked with the provider at once: the
    authorization comes back ``active``, or the call fails with ``invalid_credentials``."""
    authorization, view = await _my_authorization(session, caller, authorization_id)
    template = connectors.template_of(runtime.providers, view.connector)
    if template is None:
        raise NotFound(f"no connector {view.connector.slug!r}", code="connector_not_found")
    await submit_collected(session, runtime.flow_deps, template, authorization, body.fields)
    return catalog.public_authorization(authorization) or {}


@router.post(
    "/authorizations/{authorization_id}/cancel",
    summary="The popup was closed before the provider answered",
    response_model=PublicAuthorization,
    response_model_exclude_unset=True,
)
async def cancel(authorization_id: str, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    authorization, view = await _my_authorization(session, caller, authorization_id)
    await authorizations.cancel_authorization(session, authorization, view)
    return catalog.public_authorization(authorization) or {}
