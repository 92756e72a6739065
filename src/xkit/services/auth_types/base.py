"""What every auth type provides, and what it is given.

An auth type is a protocol difference, not a provider difference: OAuth's authorization code,
Microsoft's admin consent followed by client credentials, an API key or a password the end
user types, a service account's signed assertion. The connect flow, the token machinery and
the proxy ask the authorization's auth type what to do at each step and never look at which
provider it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx

from xkit.crypto import Keyring
from xkit.db.models import Authorization, Connector
from xkit.errors import InvalidInput, XkitError
from xkit.oauth import OAuthClient, TokenSet
from xkit.providers.schema import AccountInfo, ProviderTemplate
from xkit.services.connect.extras import Findings
from xkit.services.tokens.authorization_values import collected_values, decrypt_from
from xkit.services.tokens.provider_http import RequestAuth, oauth_client
from xkit.services.tokens.records import GrantRecord

AppCredentials = Literal["client", "service_account_key"]


@dataclass(frozen=True)
class AuthContext:
    """One authorization with its connector and template, and the means to reach the provider.

    ``settings`` are the connector's settings with what the user typed in the collect step on
    top; ``redirect_uri`` is the platform's callback URL (for the types that redirect).
    """

    template: ProviderTemplate
    connector: Connector
    authorization: Authorization
    settings: Mapping[str, str]
    keyring: Keyring
    http: httpx.AsyncClient
    redirect_uri: str | None = None

    def secret(self, column: str) -> str | None:
        """A decrypted column of the authorization (``access_token``, ``refresh_token``...)."""
        return decrypt_from(self.keyring, self.authorization, column)

    def collected(self) -> dict[str, str]:
        return collected_values(self.keyring, self.authorization)

    def oauth_client(self, settings: Mapping[str, str] | None = None) -> OAuthClient:
        return oauth_client(self.template, self.connector, self.keyring,
                            self.settings if settings is None else settings)


@dataclass(frozen=True)
class Grant:
    """What connecting produced: the account, and tokens to store (none for static
    credentials, which stay where the collect step put them)."""

    account: AccountInfo
    tokens: TokenSet | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    granted_scopes: list[str] | None = None
    # What the template's extras and lookups found (Salesforce's instance_url, ...).
    findings: Findings | None = None


class Continue:
    """The callback was one leg of several: the user goes on to the next authorize URL."""


CONTINUE = Continue()


class ConnectFailed(XkitError):
    """This connect attempt is over; ``code`` and ``message`` (words for the end user) go on
    the authorization. Connecting again may work."""

    status_code = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class CredentialsRejected(XkitError):
    """The provider did not accept what the end user typed; they can correct it and retry."""

    status_code = 422
    code = "invalid_credentials"


class CannotRenew(XkitError):
    """The stored grant cannot produce a new access token: the user must reconnect."""

    status_code = 409
    code = "reconnect_required"


class AuthType:
    """The steps of one way to connect. Subclasses override what applies to them.

    - ``redirects``: the user visits the provider's pages (``authorize_url``, then the
      callback's ``complete``); otherwise ``activate`` checks the credentials right away.
    - ``renewable``: access tokens expire and ``renew`` gets a new one, under the
      exactly-once lease of :mod:`xkit.services.tokens.refresh`.
    - ``app_credentials``: what the developer gives the connector before any end user can
      connect — the app's ``"client"`` ID and secret, a ``"service_account_key"`` — or None
      when each end user brings their own (an API key, a password). The dashboard's setup
      form, the catalog and the connect flow all ask this, and nothing else.
    """

    name: ClassVar[str]
    redirects: ClassVar[bool] = False
    renewable: ClassVar[bool] = False
    app_credentials: ClassVar[AppCredentials | None] = "client"

    def is_ready(self, connector: Connector) -> bool:
        """Whether end users could connect now: the app's credentials are set if it needs them."""
        if self.app_credentials is None:
            return True
        return bool(connector.client_id) and connector.client_secret is not None

    def authorize_url(self, ctx: AuthContext, *, state: str, code_challenge: str) -> str:
        raise NotImplementedError(f"{self.name} does not send the user to the provider")

    async def complete(self, ctx: AuthContext, params: Mapping[str, str]) -> Grant | Continue:
        raise NotImplementedError(f"{self.name} has no callback")

    async def activate(self, ctx: AuthContext, collected: Mapping[str, str]) -> Grant:
        """Check what the user typed (``collected``, not stored yet) with the provider.
        Raises :class:`CredentialsRejected` for credentials the provider refuses."""
        raise NotImplementedError(f"{self.name} connects through the provider's pages")

    async def renew(self, ctx: AuthContext) -> TokenSet:
        raise NotImplementedError(f"{self.name} has no expiring tokens")

    async def token_for_subject(self, ctx: AuthContext, subject: str) -> TokenSet:
        """A token acting as another user of the connected account's domain."""
        raise InvalidInput(f"{ctx.template.name} connections cannot act as another user; "
                           "leave out subject", code="subject_not_supported")

    def request_auth(self, ctx: AuthContext) -> RequestAuth:
        """How the proxy's calls (and the account lookup) prove whose they are."""
        return RequestAuth.token(ctx.template, ctx.secret("access_token") or "")

    def backend_credentials(self, keyring: Keyring,
                            authorization: GrantRecord) -> dict[str, str] | None:
        """Credentials handed to the developer's backend besides the access token. Given the
        stored grant alone (ORM row or the token fetch's plain row): what it hands out was
        stored with the grant, and the fetch reads nothing else."""
        return None
