"""Request and response bodies of the Platform API, as they appear in ``/openapi.json``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from xkit.providers.schema import AuthType, Mark, ProviderTemplate
from xkit.services.configuration.connectors import NOT_NULLABLE_FIELDS

_WRITE_ONLY: JsonDict = {"writeOnly": True, "format": "password"}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


_NOT_NULL = "Not nullable: leave it out to keep the current value."


def _no_default_for_not_nullable(schema: JsonDict) -> None:
    """Fields that refuse null still default to "left out"; the schema should not claim
    their default is null."""
    properties = schema.get("properties")
    for name in NOT_NULLABLE_FIELDS:
        field = properties.get(name) if isinstance(properties, dict) else None
        if isinstance(field, dict):
            field.pop("default", None)


class ConnectorFields(BaseModel):
    """Fields a developer may set on a connector. Unknown fields are refused, not ignored.

    ``X | SkipJsonSchema[None]`` is a field that may be left out (``None`` in Python) but not
    sent as null: the schema shows only ``X``, and a validator refuses an explicit null.

    A field left out keeps its current value (when creating: the template's default).
    ``null`` clears the fields that may be empty — ``short_description`` and ``description``
    become empty, ``logo_url`` and ``client_id`` are removed (without a client ID the connector
    is not ready) — and is refused, with a 422, for every other field."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_default_for_not_nullable)
    slug: str | SkipJsonSchema[None] = Field(
        None, max_length=64, examples=["outlook-email"], description=_NOT_NULL
    )
    name: str | SkipJsonSchema[None] = Field(None, max_length=200, description=_NOT_NULL)
    short_description: str | None = Field(None, max_length=500, description="null clears it.")
    description: str | None = Field(
        None, max_length=20_000, description="Markdown; null clears it."
    )
    logo_url: str | None = Field(None, max_length=2048, description="null removes the logo.")
    client_id: str | None = Field(
        None, max_length=500, description="null removes it (the connector is then not ready)."
    )
    client_secret: str | SkipJsonSchema[None] = Field(
        None,
        max_length=2000,
        json_schema_extra=_WRITE_ONLY,
        description="Write-only; never returned. Replaces the stored secret. " + _NOT_NULL,
    )
    service_account_key: str | dict[str, Any] | SkipJsonSchema[None] = Field(
        None,
        json_schema_extra=_WRITE_ONLY,
        description="Service-account connectors (jwt_bearer) only: the service account's JSON "
        "key file, as an object or as text. Write-only; client_id becomes its client_email. "
        + _NOT_NULL,
    )
    # The limit sits on the list itself: on the union it would be read as a string's length.
    scopes: Annotated[list[str], Field(max_length=200)] | SkipJsonSchema[None] = Field(
        None,
        description="Replaces the chosen scopes; the template's required scopes are always "
                    "added. [] keeps only those. " + _NOT_NULL,
    )
    settings: dict[str, str] | SkipJsonSchema[None] = Field(
        None,
        description="Replaces the provider settings; {} resets them to the template's "
                    "defaults. " + _NOT_NULL,
    )
    enabled: bool | SkipJsonSchema[None] = Field(
        None, description="Shown in the catalog. " + _NOT_NULL
    )
    multiple_connections: bool | SkipJsonSchema[None] = Field(
        None, description="A context may connect several accounts. " + _NOT_NULL
    )

    @field_validator(*(f for f in NOT_NULLABLE_FIELDS if f != "provider"), mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its current value")
        return value


class ConnectorCreate(ConnectorFields):
    provider: str = Field(..., max_length=64, examples=["outlook-email"])


class ConnectorUpdate(ConnectorFields):
    provider: str | SkipJsonSchema[None] = Field(
        None, max_length=64, description="Cannot change; if given, it must be the current one."
    )

    @field_validator("provider", mode="before")
    @classmethod
    def _provider_not_null(cls, value: object) -> object:
        return cls._not_null(value)


class ConnectorProblem(BaseModel):
    """Why a connector cannot be used right now, and what to do about it."""

    code: str = Field(..., examples=["provider_missing"])
    message: str


class ConnectorOut(BaseModel):
    id: str
    slug: str
    provider: str
    auth_type: str | None = Field(..., description="null when the provider template is missing")
    name: str
    short_description: str
    description: str
    logo_url: str | None
    client_id: str | None
    client_secret_set: bool
    client_secret_set_at: dt.datetime | None
    scopes: list[str]
    # Named apart from ProviderTemplate.required_scopes (the property it is computed from).
    always_requested: list[str] = Field(..., alias="required_scopes")
    effective_scopes: list[str]
    settings: dict[str, str]
    enabled: bool
    multiple_connections: bool
    ready: bool = Field(..., description="End users can connect now")
    problem: ConnectorProblem | None = Field(
        ..., description="Set when the connector cannot work as configured, e.g. "
                         "provider_missing: its provider template is not loaded on this server"
    )
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


class ContextList(BaseModel):
    """A page of the platform's contexts."""

    contexts: list[ContextOut]
    next_cursor: str | None = Field(
        ..., description="Pass as `cursor` for the next page; null on the last page")


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


class WebhookCreate(BaseModel):
    """A webhook subscription; unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(..., max_length=2048, examples=["https://api.example.com/xkit-webhooks"])
    events: list[str] | None = Field(
        None, max_length=20, description="Event types to receive; omitted or empty: all.",
        examples=[["connection.enabled", "connection.error"]])
    description: str | None = Field(None, max_length=200)
    enabled: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=2048)
    events: list[str] | None = Field(None, max_length=20)
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = None


class DeliveryCounts(BaseModel):
    pending: int
    delivered: int
    failed: int


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str
    events: list[str] = Field(..., description="Empty: every event type.")
    enabled: bool
    paused: bool = Field(..., description="Paused after a delivery kept failing; see "
                                          "paused_reason, and POST …/resume.")
    paused_at: dt.datetime | None
    paused_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    deliveries: DeliveryCounts | None = None


_STANDARD_SECRET = ("The same secret in the Standard Webhooks form (whsec_ + base64), for the "
                    "standardwebhooks libraries; shown only in this answer.")


class WebhookCreated(WebhookOut):
    signing_secret: str = Field(..., description="Shown only in this answer; store it now.")
    standard_webhooks_secret: str = Field(..., description=_STANDARD_SECRET)


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class WebhookDeleted(BaseModel):
    deleted: bool


class WebhookSecret(BaseModel):
    signing_secret: str = Field(..., description="The new secret, in force from now on; shown "
                                                 "only in this answer.")
    standard_webhooks_secret: str = Field(..., description=_STANDARD_SECRET)


class WebhookResumed(BaseModel):
    webhook: WebhookOut
    deliveries_queued: int


class DeliveryOut(BaseModel):
    id: str
    event_id: str = Field(..., description="The same on every attempt: deduplicate by it.")
    event_type: str
    status: str = Field(..., description="pending, delivered or failed")
    in_flight: bool
    attempts: int
    next_attempt_at: dt.datetime | None
    last_response_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
class ProviderSummary(BaseModel):
    """A provider template in the list: enough to pick one."""

    slug: str = Field(..., examples=["outlook-email"])
    name: str
    description: str
    auth_type: AuthType
    categories: list[str]
    mark: Mark
    mark_url: str = Field(..., description="The provider's logo (or xkit's glyph for its "
                                           "category) as an SVG, from xkit's own origin")


class ProviderList(BaseModel):
    providers: list[ProviderSummary]


class ProviderDetail(ProviderTemplate):
    """The whole template (it is public data: no secret is ever in one), plus the scopes a
    connector made from it always requests."""

    # Named apart from ProviderTemplate.required_scopes (the property it is computed from).
    always_requested: list[str] = Field(..., alias="required_scopes")
