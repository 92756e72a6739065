"""Request and response bodies of the Platform API, as they appear in ``/openapi.json``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_WRITE_ONLY = {"writeOnly": True, "format": "password"}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ConnectorFields(BaseModel):
    """Fields a developer may set on a connector. Unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")
    slug: str | None = Field(None, max_length=64, examples=["outlook-email"])
    name: str | None = Field(None, max_length=200)
    short_description: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=20_000, description="Markdown")
    logo_url: str | None = Field(None, max_length=2048)
    client_id: str | None = Field(None, max_length=500)
    client_secret: str | None = Field(
        None,
        max_length=2000,
        json_schema_extra=_WRITE_ONLY,
        description="Write-only; never returned.",
    )
    service_account_key: str | dict[str, Any] | None = Field(
        None,
        json_schema_extra=_WRITE_ONLY,
        description="Service-account connectors (jwt_bearer) only: the service account's JSON "
        "key file, as an object or as text. Write-only; client_id becomes its client_email.",
    )
    scopes: list[str] | None = Field(None, max_length=200)
    settings: dict[str, str] | None = None
    enabled: bool | None = None
    multiple_connections: bool | None = None


class ConnectorCreate(ConnectorFields):
    provider: str = Field(..., max_length=64, examples=["outlook-email"])


class ConnectorUpdate(ConnectorFields):
    provider: str | None = Field(None, max_length=64)


class ConnectorOut(BaseModel):
    id: str
    slug: str
    provider: str
    auth_type: str
    name: str
    short_description: str
    description: str
    logo_url: str | None
    client_id: str | None
    client_secret_set: bool
    client_secret_set_at: dt.datetime | None
    scopes: list[str]
    required_scopes: list[str]
    effective_scopes: list[str]
    settings: dict[str, str]
    enabled: bool
    multiple_connections: bool
    ready: bool
    callback_url: str
    created_at: dt.datetime
    updated_at: dt.datetime


class ConnectorList(BaseModel):
    connectors: list[ConnectorOut]


class ConnectorDeleted(BaseModel):
    deleted: bool
    connections_removed: int


class ContextFields(BaseModel):
    """A context; keys other than the named ones are kept as free attributes."""

    model_config = ConfigDict(extra="allow")
    external_id: str = Field(..., min_length=1, max_length=255)
    external_name: str | None = Field(None, max_length=255)
    attributes: dict[str, Any] | None = None

    def all_attributes(self) -> dict[str, Any]:
        return {**(self.model_extra or {}), **(self.attributes or {})}


class ContextEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    context: ContextFields


class LegacyUserEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: ContextFields


class ContextOut(BaseModel):
    id: str
    external_id: str
    external_name: str | None
    attributes: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class ContextWithToken(BaseModel):
    context: ContextOut
    access_token: str = Field(..., description="Context token for xkit.js; short-lived.")
    expires_at: dt.datetime
    expires_in: int


class LegacyUserWithToken(BaseModel):
    user: ContextOut
    access_token: str
    expires_at: dt.datetime
    expires_in: int


class PlatformOut(BaseModel):
    id: str
    slug: str
    name: str
    allowed_origins: list[str]
    login_redirect_url: str | None
