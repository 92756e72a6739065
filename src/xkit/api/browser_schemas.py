"""What the browser API (``xkit.js``) answers with, in ``/openapi.json``.

Built as dicts by ``services/connect/catalog.py``; declared on the routes with
``response_model_exclude_unset`` (see ``connection_schemas``), so the bodies are unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

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
    logo_url: str | None
    mark: Mark
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
