"""Connections as both APIs answer with them, and the token answer, in ``/openapi.json``.

The services build these answers as plain dicts (the token fetch's fast path sends the same
dict without FastAPI); the models here are their contract. Routes declare them with
``response_model_exclude_unset``, so a key the service leaves out (``subject``,
``credentials``) stays out rather than coming back as ``null``: the bodies are exactly the
services' dicts, now checked against the schema on the way out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

#: A time the service already wrote as ISO 8601 text; passed through as it is, so the body
#: keeps its ``+00:00`` spelling.
DateTimeText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class ConnectorRef(BaseModel):
    slug: str = Field(..., examples=["outlook-email"])
    name: str


class ConnectionWarning(BaseModel):
    """Something about a working grant the developer should fix before it bites."""

    code: str = Field(..., examples=["no_refresh_token"],
                      description="no_refresh_token: offline_access was asked for, but the "
                                  "provider issued no refresh token, so the connection lapses "
                                  "with its access token (OpenID Connect providers want "
                                  "prompt=consent)")
    message: str = Field(..., description="What happened and what to change, for the developer")


class PublicAuthorization(BaseModel):
    """Where a connection's grant stands; never a credential."""

    id: str
    connection_id: str
    status: Literal["awaiting_callback", "retrieving_tokens", "active", "error"]
    error_code: str | None = Field(..., description="The provider's code when status is error")
    error_message: str | None = Field(..., description="A plain message for the end user")
    display_label: str | None = Field(..., description="The account, e.g. its e-mail address")
    granted_scopes: list[str]
    warnings: list[ConnectionWarning] = Field(
        ..., description="Set when a connect succeeded short of something (see the code); "
                         "empty otherwise. A reconnect decides them again.")


class PublicConnection(BaseModel):
    """A connection without credentials (the browser API, and the backend's view of one)."""

    id: str
    connector: ConnectorRef
    enabled: bool
    status: Literal["connected", "error", "pending", "disabled", "not_authorized"] = Field(
        ..., description="connected: enabled, with an authorization not in error")
    authorization: PublicAuthorization | None = Field(
        ..., description="The current grant; null before the first connect")
    created_at: DateTimeText


class ConnectorSummary(ConnectorRef):
    provider: str = Field(..., examples=["outlook-email"])


class ContextRef(BaseModel):
    external_id: str


class TokenAuthorization(BaseModel):
    """The grant with its credentials: what a backend calls the provider with."""

    id: str
    status: Literal["awaiting_callback", "retrieving_tokens", "active", "error"]
    access_token: str | None = Field(
        ..., description="Valid for at least the refresh margin (default 5 minutes); null "
                         "when the grant has none")
    token_type: str = Field(..., examples=["Bearer"])
    expires_at: DateTimeText | None = Field(
        ..., description="null when the provider gave no expiry")
    granted_scopes: list[str]
    provider_account_id: str | None
    display_label: str | None
    extras: dict[str, Any] = Field(
        ..., description="What the provider's token answer carried besides the token "
                         "(instance_url, tenant, …), as the template keeps it")
    subject: str | None = Field(
        None, description="Only when ?subject= was given: the user the token acts as")
    credentials: dict[str, str] | None = Field(
        None, description="Only for API-key and password connectors: what the user entered")


class ConnectionWithToken(BaseModel):
    """The token answer: a context's connection with a fresh access token."""

    connection: PublicConnection
    connector: ConnectorSummary
    context: ContextRef
    authorization: TokenAuthorization


class ContextConnection(BaseModel):
    """A context's connection in a list: no credentials."""

    connection: PublicConnection
    connector: ConnectorSummary
    context: ContextRef


class ContextConnectionList(BaseModel):
    connections: list[ContextConnection]


class PlatformConnectionList(BaseModel):
    """A page of the platform's connections."""

    connections: list[ContextConnection]
    next_cursor: str | None = Field(
        ..., description="Pass as ?cursor= for the next page; null on the last page")


class Revocation(BaseModel):
    attempted: bool = Field(..., description="Whether the provider was asked to revoke the grant")
    succeeded: bool | None = Field(None, description="Only when attempted")
    error: str | None = Field(None, description="The provider's code, when revocation failed")


class ConnectionDeleted(BaseModel):
    deleted: bool
    revocation: Revocation
