"""What the browser API (``xkit.js``) answers with, in ``/openapi.json``.

Built as dicts by ``services/connect/catalog.py``; declared on the routes with
``response_model_exclude_unset`` (see ``connection_schemas``), so the bodies are unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xkit.api.connection_schemas import PublicConnection
from xkit.providers.schema import AuthType, Mark, Option


class PublicPlatform(BaseModel):
    slug: str
    name: str
    branding: dict[str, Any] = Field(..., description="Colours and logo for the catalog")


class SessionContext(BaseModel):
    external_id: str
    external_name: str | None


class SessionOut(BaseModel):
    """Who a context token is."""

    platform: PublicPlatform
    context: SessionContext


class CollectFieldOut(BaseModel):
    """A value the end user gives when connecting (API key, subdomain, …)."""

    name: str
    label: str
    description: str
    required: bool
    options: list[Option]
    type: Literal["text", "secret", "choice"]
    suffix: str | None


class CatalogConnector(BaseModel):
    slug: str = Field(..., examples=["outlook-email"])
    name: str
    short_description: str
    description: str = Field(..., description="Markdown")
    logo_url: str | None = Field(..., description="The developer's own logo; shown instead "
                                                   "of the mark when set")
    mark: Mark
    categories: list[str] = Field(..., examples=[["email", "productivity"]],
                                  description="the provider's, for the catalog's filter")
    mark_url: str = Field(..., description="The provider's logo (or our glyph for its "
                                           "category) as an SVG, from xkit's own origin")
    auth_type: AuthType
    multiple_connections: bool
    collect: list[CollectFieldOut]


class CatalogConnectorList(BaseModel):
    connectors: list[CatalogConnector]


class CatalogConnectorWithConnections(CatalogConnector):
    connections: list[PublicConnection] = Field(..., description="This context's, to it")


class PublicConnectionList(BaseModel):
    connections: list[PublicConnection]


class PopupLink(BaseModel):
    url: str = Field(..., description="Open it in the popup; single use")
    expires_in: int = Field(..., description="Seconds")


class UserJwtLogin(BaseModel):
    """The app's own user JWT, from an issuer the platform registered."""

    model_config = ConfigDict(extra="forbid")
    user_jwt: str = Field(..., min_length=1, max_length=16384,
                          description="A JWS compact JWT (an OpenID Connect id_token, …)")


class UserJwtSession(SessionOut):
    """The usual browser session for the JWT's user: a context token and who it is."""

    access_token: str = Field(..., description="A context token: send it as "
                                               "'Authorization: Bearer …' to the browser API")
    token_type: Literal["bearer"]
    expires_at: dt.datetime = Field(..., description="Never (much) after the user JWT's exp")
