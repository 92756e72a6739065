"""The HTTP client xkit uses to talk to providers, and building an OAuth client per connector."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import certifi
import httpx

from xkit import telemetry
from xkit.crypto import Keyring
from xkit.db.models import Connector
from xkit.errors import Conflict
from xkit.metrics import MeteredTransport
from xkit.oauth import OAuthClient
from xkit.outbound import OutboundPolicy, OutboundTransport
from xkit.providers.schema import OAuth2Endpoints, ProviderTemplate
from xkit.services.configuration.keyring import decrypt_client_secret

USER_AGENT = "xkit (+https://github.com/xkit)"


@dataclass(frozen=True)
class RequestAuth:
    """What a request to a provider's API carries to say whose it is: headers (a bearer token,
    an API key, Basic credentials) and, for APIs that want them there, query parameters."""

    headers: dict[str, str] = field(default_factory=dict, repr=False)
    query: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def token(cls, template: ProviderTemplate, access_token: str) -> RequestAuth:
        """An access token, as the template sends it (RFC 6750's ``Bearer`` unless it says
        otherwise)."""
        return cls(headers={k.lower(): v for k, v in template.token_header(access_token).items()})

    def url(self, url: str) -> str:
        """``url`` with this auth's query parameters added to the ones it has."""
        if not self.query:
            return url
        parts = urlsplit(url)
        extra = urlencode(self.query)
        query = f"{parts.query}&{extra}" if parts.query else extra
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def create_provider_http(*, timeout_seconds: float, ca_bundle: Path | None,
                         policy: OutboundPolicy) -> httpx.AsyncClient:
    """One pooled client for calls made on a platform's behalf, every one of them held to
    ``policy`` (see :mod:`xkit.outbound`). ``ca_bundle`` adds trusted CAs (a corporate
    proxy, a private provider, the test emulators) to the usual public ones."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    # Requests made inside xkit.metrics.provider_call blocks are counted by provider and kind.
    transport = MeteredTransport(
        OutboundTransport(policy, options={"verify": context, "limits": limits}))
    return httpx.AsyncClient(
        verify=context,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        limits=limits,
        transport=telemetry.traced_transport(transport),  # a span per call, if tracing is on
    )


def oauth_client(template: ProviderTemplate, connector: Connector, keyring: Keyring,
                 settings: Mapping[str, str] | None = None, *,
                 endpoints: OAuth2Endpoints | None = None) -> OAuthClient:
    """The OAuth client for a connector: the template's endpoints with the connector's settings
    (or ``settings``: those plus what the user typed in the collect step) and credentials.
    ``endpoints`` are other ones than the ``oauth2`` block's (the client credentials type's)."""
    client_secret = decrypt_client_secret(keyring, connector)
    if not connector.client_id or client_secret is None:
        raise Conflict(f"connector {connector.slug!r} has no client ID and secret yet",
                       code="connector_not_ready")
    if endpoints is None:
        endpoints = template.oauth2_endpoints(
            connector.settings if settings is None else settings)
    return OAuthClient(
        client_id=connector.client_id,
        client_secret=client_secret,
        authorize_url=endpoints.authorize_url,
        token_url=endpoints.token_url,
        revoke_url=endpoints.revoke_url,
        token_auth_method=endpoints.token_auth_method,
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
        error_paths=endpoints.error_paths,
        error_description_paths=endpoints.error_description_paths,
        granted_scope_fields=endpoints.granted_scope_fields,
    )
