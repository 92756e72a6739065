"""JWT issuers: the app's own login system, whose user JWTs xkit.js may sign in with."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from xkit.api.deps import CallerDep, PlatformDep, RuntimeDep, SessionDep
from xkit.api.schemas import ErrorResponse
from xkit.services.configuration import jwt_issuers
from xkit.services.configuration.jwt_issuers import ALLOWED_ALGORITHMS

router = APIRouter(prefix="/jwt-issuers", tags=["JWT issuers"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such issuer on this platform"}}
_ALGORITHMS = f"Asymmetric only: {', '.join(ALLOWED_ALGORITHMS)}. 'none' and HS* are refused."


class JwtIssuerCreate(BaseModel):
    """An issuer of your app's user JWTs; unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")
    issuer: str = Field(..., max_length=2048, description="The tokens' exact 'iss'",
                        examples=["https://login.example.com/"])
    audience: str = Field(..., max_length=2048, description="An 'aud' the tokens must carry "
                                                           "(often your client id)")
    jwks_url: str = Field(..., max_length=2048, description="Where the issuer publishes its "
                                                           "public keys (https)",
                          examples=["https://login.example.com/.well-known/jwks.json"])
    user_id_claim: str = Field("sub", max_length=100,
                               description="The claim holding the user id: the context's "
                                           "external_id")
    name_claim: str | None = Field(None, max_length=100,
                                   description="The claim holding the user's name, if any")
    algorithms: list[str] | None = Field(None, max_length=10,
                                         description=f"Default [\"RS256\"]. {_ALGORITHMS}")
    enabled: bool = True


class JwtIssuerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issuer: str | None = Field(None, max_length=2048)
    audience: str | None = Field(None, max_length=2048)
    jwks_url: str | None = Field(None, max_length=2048)
    user_id_claim: str | None = Field(None, max_length=100)
    name_claim: str | None = Field(None, max_length=100, description="null or '': none")
    algorithms: list[str] | None = Field(None, max_length=10, description=_ALGORITHMS)
    enabled: bool | None = None


class JwtIssuerOut(BaseModel):
    id: str
    issuer: str
    audience: str
    jwks_url: str
    user_id_claim: str
    name_claim: str | None
    algorithms: list[str]
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class JwtIssuerList(BaseModel):
    jwt_issuers: list[JwtIssuerOut]


class JwtIssuerDeleted(BaseModel):
    deleted: bool


@router.get("", response_model=JwtIssuerList, summary="The platform's JWT issuers")
async def list_jwt_issuers(caller: CallerDep, session: SessionDep) -> JwtIssuerList:
    found = await jwt_issuers.list_issuers(session, caller.platform_id)
    return JwtIssuerList(jwt_issuers=[
        JwtIssuerOut(**jwt_issuers.describe_issuer(row)) for row in found])


@router.post("", response_model=JwtIssuerOut, status_code=201,
             summary="Register an issuer: xkit.js may then sign in with its user JWTs",
             responses={409: {"model": ErrorResponse,
                              "description": "jwt_issuer_exists: the platform has this issuer"}})
async def create_jwt_issuer(body: JwtIssuerCreate, caller: CallerDep, platform: PlatformDep,
                            runtime: RuntimeDep, session: SessionDep) -> JwtIssuerOut:
    row = await jwt_issuers.create_issuer(session, runtime.issuer_policy, platform,
                                          body.model_dump(exclude_none=True), actor=caller.actor)
    return JwtIssuerOut(**jwt_issuers.describe_issuer(row))


@router.get("/{issuer_id}", response_model=JwtIssuerOut, summary="One JWT issuer",
            responses=_NOT_FOUND)
async def get_jwt_issuer(issuer_id: str, caller: CallerDep, session: SessionDep) -> JwtIssuerOut:
    row = await jwt_issuers.get_issuer(session, caller.platform_id, issuer_id)
    return JwtIssuerOut(**jwt_issuers.describe_issuer(row))


@router.patch("/{issuer_id}", response_model=JwtIssuerOut, summary="Change a JWT issuer",
              responses=_NOT_FOUND)
async def update_jwt_issuer(issuer_id: str, body: JwtIssuerUpdate, caller: CallerDep,
                            runtime: RuntimeDep, session: SessionDep) -> JwtIssuerOut:
    row = await jwt_issuers.get_issuer(session, caller.platform_id, issuer_id)
    row = await jwt_issuers.update_issuer(session, runtime.issuer_policy, row,
                                          body.model_dump(exclude_unset=True), actor=caller.actor)
    return JwtIssuerOut(**jwt_issuers.describe_issuer(row))


@router.delete("/{issuer_id}", response_model=JwtIssuerDeleted,
               summary="Remove a JWT issuer: its tokens sign in no more", responses=_NOT_FOUND)
async def delete_jwt_issuer(issuer_id: str, caller: CallerDep,
                            session: SessionDep) -> JwtIssuerDeleted:
    row = await jwt_issuers.get_issuer(session, caller.platform_id, issuer_id)
    await jwt_issuers.delete_issuer(session, row, actor=caller.actor)
    return JwtIssuerDeleted(deleted=True)
