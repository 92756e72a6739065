"""The HTTP client xkit uses to talk to providers, and building an OAuth client per connector."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path

import certifi
import httpx

from xkit.connect_to import ConnectTo, ConnectToTransport
from xkit.crypto import Keyring
from xkit.db.models import Connector
from xkit.errors import Conflict
from xkit.oauth import OAuthClient
from xkit.providers.schema import ProviderTemplate
from xkit.services.connectors import client_secret_aad

USER_AGENT = "xkit (+https://github.com/xkit)"


def create_provider_http(*, timeout_seconds: float, ca_bundle: Path | None,
                         connect_to: ConnectTo | None = None) -> httpx.AsyncClient:
    """One pooled client for all provider calls. ``ca_bundle`` adds trusted CAs (a corporate
    proxy, a private provider, the test emulators) to the usual public ones; ``connect_to``
    sends some hosts' connections to another address (``XKIT_PROVIDER_CONNECT_TO``)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    # Always this transport, even with no rules: the proxy pins vetted addresses through it.
    transport = ConnectToTransport(connect_to or ConnectTo(),
                                   options={"verify": context, "limits": limits})
    return httpx.AsyncClient(
        verify=context,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        limits=limits,
        transport=transport,
    )


def oauth_client(template: ProviderTemplate, connector: Connector, keyring: Keyring,
                 settings: Mapping[str, str] | None = None) -> OAuthClient:
    """The OAuth client for a connector: the template's endpoints with the connector's settings
    (or ``settings``: those plus what the user typed in the collect step) and credentials."""
    if not connector.client_id or connector.client_secret is None:
        raise Conflict(f"connector {connector.slug!r} has no client ID and secret yet",
                       code="connector_not_ready")
    endpoints = template.oauth2_endpoints(connector.settings if settings is None else settings)
    return OAuthClient(
        client_id=connector.client_id,
        client_secret=keyring.decrypt(connector.client_secret,
                                      aad=client_secret_aad(connector.id)),
        authorize_url=endpoints.authorize_url,
        token_url=endpoints.token_url,
        revoke_url=endpoints.revoke_url,
        token_auth_method=endpoints.token_auth_method,  # type: ignore[arg-type]
        scope_separator=endpoints.scope_separator,
        authorize_params=endpoints.authorize_params,
        token_params=endpoints.token_params,
        pkce=endpoints.pkce,
        extras_to_keep=endpoints.token_extras,
        token_request_format=endpoints.token_request_format,
        scope_in_token_request=endpoints.scope_in_token_request,
        access_token_paths=endpoints.access_token_paths,
        refresh_token_paths=endpoints.refresh_token_paths,
        expires_in_paths=endpoints.expires_in_paths,
        granted_scope_fields=endpoints.granted_scope_fields,
    )
