"""The ways to connect, one module each, chosen by a template's ``auth_type``.

========================  ===================================================================
``oauth2``                authorization code with PKCE, refresh tokens (:mod:`.oauth2`)
``oauth2_admin_consent``  an admin approves for the organization, then client credentials
                          (:mod:`.admin_consent`)
``api_key``               a key the end user pastes, in a header or query (:mod:`.api_key`)
``basic``                 HTTP Basic from what the end user types (:mod:`.basic`)
``jwt_bearer``            a service account key signs assertions (:mod:`.jwt_bearer`)
``client_credentials``    the connector's client ID and secret, per tenant, no sign-in
                          (:mod:`.client_credentials`)
========================  ===================================================================
"""

from __future__ import annotations

from xkit.providers.schema import ProviderTemplate
from xkit.services.auth_types.admin_consent import AdminConsent
from xkit.services.auth_types.api_key import ApiKey
from xkit.services.auth_types.base import (
    CONTINUE,
    AppCredentials,
    AuthContext,
    AuthType,
    CannotRenew,
    ConnectFailed,
    Continue,
    CredentialsRejected,
    Grant,
)
from xkit.services.auth_types.basic import Basic
from xkit.services.auth_types.client_credentials import ClientCredentials
from xkit.services.auth_types.jwt_bearer import JwtBearer
from xkit.services.auth_types.oauth2 import OAuth2

AUTH_TYPES: dict[str, AuthType] = {
    kind.name: kind for kind in (OAuth2(), AdminConsent(), ApiKey(), Basic(), JwtBearer(),
                                 ClientCredentials())
}


def auth_type_of(template: ProviderTemplate) -> AuthType:
    return AUTH_TYPES[template.auth_type]


__all__ = [
    "AUTH_TYPES", "CONTINUE", "AppCredentials", "AuthContext", "AuthType", "CannotRenew",
    "ConnectFailed", "Continue", "CredentialsRejected", "Grant", "auth_type_of",
]
